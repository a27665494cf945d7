"""/api/users/me."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.auth import UpdateMeSchema, UserSearchQuerySchema
from schemas.rooms import UserPathSchema

routes = web.RouteTableDef()


@routes.get("/api/users/me")
async def get_me(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    return web.json_response(await request.app[SERVICES].users.get_me(who.user_id))


@routes.put("/api/users/me")
async def update_me(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    changes = await deps.json_body(request, UpdateMeSchema())
    services = request.app[SERVICES]
    user = await services.users.update_me(who.user_id, changes)
    if "password" in changes:
        # A new password locks out every other device (e.g. an attacker's stolen session).
        await services.auth.end_other_sessions(who)
    return web.json_response(user)


@routes.get("/api/users")
async def search(request: web.Request) -> web.Response:
    """`?search=prefix`: people to message or invite."""
    await deps.principal(request)
    q = deps.query(request, UserSearchQuerySchema())
    return web.json_response(
        {"users": await request.app[SERVICES].users.search(q["search"], q["limit"])}
    )


@routes.get("/api/users/{userId}")
async def get_user(request: web.Request) -> web.Response:
    await deps.principal(request)
    user_id = deps.path(request, UserPathSchema())["user_id"]
    return web.json_response(await request.app[SERVICES].users.get_user(user_id))
