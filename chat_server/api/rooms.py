"""/api/rooms: listing and room details."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.rooms import RoomListQuerySchema, RoomPathSchema

routes = web.RouteTableDef()


@routes.get("/api/rooms")
async def list_rooms(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    q = deps.query(request, RoomListQuerySchema())
    rooms = await request.app[SERVICES].rooms.list_rooms(who.user_id, q["limit"])
    return web.json_response({"rooms": rooms})


@routes.get("/api/rooms/{id}")
async def get_room(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    return web.json_response(await request.app[SERVICES].rooms.get_room(who.user_id, room_id))
