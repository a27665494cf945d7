"""/api/direct-messages and /api/users/{id}/block."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from chat_server.services.posting import Draft
from schemas.messages import HistoryQuerySchema, PostDirectMessageSchema
from schemas.rooms import UserPathSchema

routes = web.RouteTableDef()


@routes.get("/api/direct-messages")
async def conversations(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    return web.json_response(
        {"conversations": await request.app[SERVICES].direct.conversations(who.user_id)}
    )


@routes.get("/api/direct-messages/{userId}")
async def history(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    other = deps.path(request, UserPathSchema())["user_id"]
    q = deps.query(request, HistoryQuerySchema())
    page = await request.app[SERVICES].direct.history(
        user_id=who.user_id,
        other_id=other,
        limit=q["limit"],
        before=q.get("before"),
        after=q.get("after"),
    )
    return web.json_response(page)


@routes.post("/api/direct-messages/{userId}")
async def send(request: web.Request) -> web.Response:
    """The HTTP fallback of `send_dm`, with the same effects."""
    who = await deps.principal(request)
    other = deps.path(request, UserPathSchema())["user_id"]
    data = await deps.json_body(request, PostDirectMessageSchema())
    draft = Draft.from_payload(who.user_id, who.username, data)
    message, created = await request.app[SERVICES].direct.send(draft, other)
    return web.json_response({"message": message}, status=201 if created else 200)


@routes.post("/api/users/{userId}/block")
async def block(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    other = deps.path(request, UserPathSchema())["user_id"]
    await request.app[SERVICES].direct.block(who.user_id, other)
    return web.Response(status=204)


@routes.delete("/api/users/{userId}/block")
async def unblock(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    other = deps.path(request, UserPathSchema())["user_id"]
    await request.app[SERVICES].direct.unblock(who.user_id, other)
    return web.Response(status=204)
