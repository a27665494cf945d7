"""/api/rooms/{id}/messages/{messageId}/reactions/{emoji}: add and remove one's reaction.

The emoji is one path segment, percent-encoded (`%F0%9F%91%8D` for 👍). Both verbs are
idempotent and answer the message's current state.
"""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.reactions import ReactionPathSchema

routes = web.RouteTableDef()

REACTION_PATH = "/api/rooms/{id}/messages/{messageId}/reactions/{emoji}"


@routes.put(REACTION_PATH)
async def add_reaction(request: web.Request) -> web.Response:
    """Same effects as the `add_reaction` event."""
    who = await deps.principal(request)
    p = deps.path(request, ReactionPathSchema())
    message = await request.app[SERVICES].reactions.add(
        who.user_id, p["id"], p["message_id"], p["emoji"]
    )
    return web.json_response({"message": message})


@routes.delete(REACTION_PATH)
async def remove_reaction(request: web.Request) -> web.Response:
    """Same effects as the `remove_reaction` event."""
    who = await deps.principal(request)
    p = deps.path(request, ReactionPathSchema())
    message = await request.app[SERVICES].reactions.remove(
        who.user_id, p["id"], p["message_id"], p["emoji"]
    )
    return web.json_response({"message": message})
