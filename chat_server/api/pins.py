"""/api/rooms/{id}/pins: a room's pinned messages; members pin and unpin (idempotent)."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.reactions import PinPathSchema
from schemas.rooms import RoomPathSchema

routes = web.RouteTableDef()

PIN_PATH = "/api/rooms/{id}/pins/{messageId}"


@routes.get("/api/rooms/{id}/pins")
async def pinned(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    room_id = deps.path(request, RoomPathSchema())["id"]
    return web.json_response(await request.app[SERVICES].pins.pinned(who.user_id, room_id))


@routes.put(PIN_PATH)
async def pin(request: web.Request) -> web.Response:
    """Same effects as the `pin_message` event."""
    who = await deps.principal(request)
    p = deps.path(request, PinPathSchema())
    message = await request.app[SERVICES].pins.pin(who.user_id, p["id"], p["message_id"])
    return web.json_response({"message": message})


@routes.delete(PIN_PATH)
async def unpin(request: web.Request) -> web.Response:
    """Same effects as the `unpin_message` event."""
    who = await deps.principal(request)
    p = deps.path(request, PinPathSchema())
    message = await request.app[SERVICES].pins.unpin(who.user_id, p["id"], p["message_id"])
    return web.json_response({"message": message})
