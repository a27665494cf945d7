"""/api/rooms/{id}/messages: history pages and the HTTP fallback for sending."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from chat_server.services.posting import Draft
from schemas.messages import HistoryQuerySchema, PostMessageSchema
from schemas.rooms import RoomPathSchema

routes = web.RouteTableDef()


@routes.get("/api/rooms/{id}/messages")
async def history(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    q = deps.query(request, HistoryQuerySchema())
    page = await request.app[SERVICES].messages.history(
        user_id=who.user_id,
        room_id=room_id,
        limit=q["limit"],
        before=q.get("before"),
        after=q.get("after"),
    )
    return web.json_response(page)


@routes.post("/api/rooms/{id}/messages")
async def post_message(request: web.Request) -> web.Response:
    """Same effects as the `send_message` event: stored, then broadcast to the room."""
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    data = await deps.json_body(request, PostMessageSchema())
    draft = Draft.from_payload(who.user_id, who.username, data)
    message, created = await request.app[SERVICES].messages.send(draft, room_id)
    return web.json_response({"message": message}, status=201 if created else 200)
