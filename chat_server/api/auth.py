"""/api/auth/*: register, login, refresh, logout."""

from __future__ import annotations

from aiohttp import web

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from chat_server.errors import (
    InvalidToken,
    Unauthenticated,
    UnsupportedMediaType,
    ValidationFailed,
)
from schemas.auth import LoginSchema, RefreshSchema, RegisterSchema

routes = web.RouteTableDef()

JSON = "application/json"


def refuse_cross_site(request: web.Request) -> None:
    """Login CSRF: a foreign page must not sign the visitor's browser in to an account of
    the attacker's choosing (then read what the victim types into it). Browsers send
    text/plain, form and multipart bodies cross-site without a CORS preflight, so only JSON
    is taken, and a foreign Origin (or Referer) is refused as on cookie-authenticated
    writes. Clients without an Origin (API clients) are not browsers and pass."""
    deps.check_origin(request)
    if request.content_type != JSON:
        raise UnsupportedMediaType(f"Send the body as {JSON}")


@routes.post("/api/auth/register")
async def register(request: web.Request) -> web.Response:
    refuse_cross_site(request)
    data = await deps.json_body(request, RegisterSchema())
    services = request.app[SERVICES]
    await services.limiter.hit("register", deps.client_ip(request))
    pair = await services.auth.register(data["email"], data["username"], data["password"])
    response = web.json_response(pair.to_dict(), status=201)
    deps.set_session_cookies(response, request, pair)
    return response


@routes.post("/api/auth/login")
async def login(request: web.Request) -> web.Response:
    refuse_cross_site(request)
    data = await deps.json_body(request, LoginSchema())
    identifier = LoginSchema.identifier(data)
    if not identifier:
        raise ValidationFailed(
            "Give an email or username", fields={"email": ["Missing data for required field."]}
        )
    services = request.app[SERVICES]
    await services.limiter.hit("login", deps.client_ip(request))
    # Failed logins per account, keyed by the identifier as the database folds it, whether
    # or not such an account exists (the same answer and the same bcrypt work either way:
    # no enumeration).
    account = await services.auth.login_account_key(identifier)
    await services.limiter.check("login_account", account)
    try:
        pair = await services.auth.login(identifier, data["password"])
    except Unauthenticated:
        await services.limiter.hit("login_account", account)
        raise
    response = web.json_response(pair.to_dict())
    deps.set_session_cookies(response, request, pair)
    return response


@routes.post("/api/auth/refresh")
async def refresh(request: web.Request) -> web.Response:
    data = await deps.json_body(request, RefreshSchema())
    token = data.get("refresh_token")
    if token is None:
        token = request.cookies.get(deps.REFRESH_COOKIE)
        if token is not None:
            deps.check_origin(request)
    if not token:
        raise InvalidToken("A refresh token is required")
    pair = await request.app[SERVICES].auth.refresh(token)
    response = web.json_response(pair.to_dict())
    deps.set_session_cookies(response, request, pair)
    return response


@routes.post("/api/auth/logout")
async def logout(request: web.Request) -> web.Response:
    who = await deps.principal(request)
    await request.app[SERVICES].auth.logout(who)
    response = web.Response(status=204)
    deps.clear_session_cookies(response)
    return response
