"""/api/rooms/{id}/messages/{messageId} (edit, delete, edit history) and
/api/rooms/{id}/changes (the change feed): docs/contract.md §12, over HTTP."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.changes import ChangesQuerySchema, MessagePathSchema, PatchMessageSchema
from schemas.rooms import RoomPathSchema

routes = web.RouteTableDef()


@routes.patch("/api/rooms/{id}/messages/{messageId}")
async def edit(request: web.Request) -> web.Response:
    """Same effects as the `edit_message` event."""
    who = await deps.principal(request)
    where = deps.path(request, MessagePathSchema())
    data = await deps.json_body(request, PatchMessageSchema())
    message = await request.app[SERVICES].edits.edit(
        who.user_id, where["id"], where["message_id"], data["content"]
    )
    return web.json_response({"message": message})


@routes.delete("/api/rooms/{id}/messages/{messageId}")
async def delete(request: web.Request) -> web.Response:
    """Same effects as the `delete_message` event; answers the tombstone (again when
    repeated)."""
    who = await deps.principal(request)
    where = deps.path(request, MessagePathSchema())
    message = await request.app[SERVICES].edits.delete(
        who.user_id, where["id"], where["message_id"]
    )
    return web.json_response({"message": message})


@routes.get("/api/rooms/{id}/messages/{messageId}/edits")
async def edits(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    where = deps.path(request, MessagePathSchema())
    body = await request.app[SERVICES].edits.edits(who.user_id, where["id"], where["message_id"])
    return web.json_response(body)


@routes.get("/api/rooms/{id}/changes")
async def changes(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    q = deps.query(request, ChangesQuerySchema())
    page = await request.app[SERVICES].edits.changes(
        who.user_id, room_id, after=q["after"], limit=q["limit"]
    )
    return web.json_response(page)
