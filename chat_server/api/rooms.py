"""/api/rooms: list, create, details, join, leave, members, invites."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.rooms import (
    CreateRoomSchema,
    InviteSchema,
    MemberListQuerySchema,
    RoomListQuerySchema,
    RoomPathSchema,
)

routes = web.RouteTableDef()


@routes.get("/api/rooms")
async def list_rooms(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    q = deps.query(request, RoomListQuerySchema())
    page = await request.app[SERVICES].rooms.list_rooms(
        who.user_id, limit=q["limit"], search=q.get("search"), after=q.get("cursor")
    )
    return web.json_response(page)


@routes.post("/api/rooms")
async def create_room(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    data = await deps.json_body(request, CreateRoomSchema())
    await request.app[SERVICES].limiter.hit("rooms", who.user_id)
    room = await request.app[SERVICES].rooms.create_room(
        who.user_id,
        name=data["name"],
        description=data["description"],
        is_private=data["is_private"],
    )
    return web.json_response(room, status=201)


@routes.get("/api/rooms/{id}")
async def get_room(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    return web.json_response(await request.app[SERVICES].rooms.get_room(who.user_id, room_id))


@routes.post("/api/rooms/{id}/join")
async def join_room(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    room = await request.app[SERVICES].rooms.join(who.user_id, who.username, room_id)
    return web.json_response(room)


@routes.delete("/api/rooms/{id}/leave")
async def leave_room(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    await request.app[SERVICES].rooms.leave(who.user_id, room_id)
    return web.Response(status=204)


@routes.get("/api/rooms/{id}/members")
async def members(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    q = deps.query(request, MemberListQuerySchema())
    page = await request.app[SERVICES].rooms.members(
        who.user_id, room_id, limit=q["limit"], after=q.get("cursor")
    )
    return web.json_response(page)


@routes.post("/api/rooms/{id}/invites")
async def invite(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    data = await deps.json_body(request, InviteSchema())
    await request.app[SERVICES].limiter.hit("invites", who.user_id)
    result, created = await request.app[SERVICES].rooms.invite(
        who.user_id, who.username, room_id, data["user_id"]
    )
    return web.json_response(result, status=201 if created else 200)


@routes.get("/api/invites")
async def my_invites(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    return web.json_response({"invites": await request.app[SERVICES].rooms.invites(who.user_id)})


@routes.get("/api/rooms/{id}/reads")
async def read_positions(request: web.Request) -> web.Response:
    """How far each member has read: what a client needs for read ticks after a reload."""
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    positions = await request.app[SERVICES].reads.read_positions(who.user_id, room_id)
    return web.json_response({"roomId": str(room_id), **positions})
