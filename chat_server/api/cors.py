"""CORS for the REST API: the CORS_ORIGINS allow-list, through aiohttp-cors.

With no CORS_ORIGINS (the default) nothing is set up: browsers get no CORS headers, so a
page on another origin can neither read API responses nor pass a preflight (OPTIONS is a
405). With an allow-list, only those exact origins get `Access-Control-Allow-Origin`
(with credentials, for the cookie session) and an answered preflight; a preflight from
any other origin is refused with 403.

The Socket.IO endpoint is not handled here: python-engineio checks the handshake's Origin
against the same list itself (`cors_allowed_origins`, realtime/server.py).
"""

from __future__ import annotations

import aiohttp_cors
from aiohttp import web

from chat_server.config import Config

# What cross-origin clients of the API may send and read.
ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
EXPOSE_HEADERS = ("Retry-After", "X-Request-ID")
MAX_AGE_S = 600


def setup_cors(app: web.Application, config: Config) -> None:
    """Apply the allow-list to every /api/ route registered so far."""
    if not config.cors_origins:
        return
    options = aiohttp_cors.ResourceOptions(
        allow_credentials=True,
        allow_headers=ALLOW_HEADERS,
        expose_headers=EXPOSE_HEADERS,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        max_age=MAX_AGE_S,
    )
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(config.cors_origins, options))
    for route in list(app.router.routes()):
        resource = route.resource
        if resource is None or not resource.canonical.startswith("/api/"):
            continue
        if route.method in ("HEAD", "OPTIONS"):
            continue
        cors.add(route)
