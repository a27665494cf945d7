"""/api/users/me."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from schemas.auth import UpdateMeSchema, UserSearchQuerySchema
from schemas.rooms import UserPathSchema

routes = web.RouteTableDef()

# Fields of PUT /api/users/me that make it check the current password (a new password or
# email needs it; a currentPassword sent along is checked too): each such request is a
# password guess and, for an email, a probe of which addresses are registered.
PASSWORD_CHECKED_FIELDS = frozenset({"password", "email", "current_password"})


@routes.get("/api/users/me")
async def get_me(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    return web.json_response(await request.app[SERVICES].users.get_me(who.user_id))


@routes.put("/api/users/me")
async def update_me(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    changes = await deps.json_body(request, UpdateMeSchema())
    services = request.app[SERVICES]
    if PASSWORD_CHECKED_FIELDS & changes.keys():
        # Like login: per user (a stolen token from many IPs) and per client IP (one
        # attacker holding many users' tokens), counted before the bcrypt check.
        await services.limiter.hit("profile", "user:" + who.user_id)
        await services.limiter.hit("profile", "ip:" + deps.client_ip(request))
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
