"""/api/rooms/{id}/messages/{messageId}/thread: a thread's root and replies.

Replies are sent like any message (`POST /api/rooms/{id}/messages` with `threadId`).
"""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.reactions import ThreadPathSchema, ThreadQuerySchema

routes = web.RouteTableDef()


@routes.get("/api/rooms/{id}/messages/{messageId}/thread")
async def thread(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    p = deps.path(request, ThreadPathSchema())
    q = deps.query(request, ThreadQuerySchema())
    page = await request.app[SERVICES].messages.thread(
        user_id=who.user_id,
        room_id=p["id"],
        message_id=p["message_id"],
        after=q["after"],
        limit=q["limit"],
    )
    return web.json_response(page)
