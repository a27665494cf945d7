"""Request id, logging context, the public error shape and security headers."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from aiohttp.typedefs import Middleware

from chat_server import metrics
from chat_server.api.keys import CONFIG, STATE
from chat_server.errors import DATABASE_DOWN, ChatError, NotFound, RateLimited, Unavailable

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# aiohttp's own HTTP errors mapped to our public codes.
_HTTP_CODES = {
    400: "validation_error",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}

# The API and the UI never need to be framed, to load remote code, or to leak URLs.
CSP_DEFAULT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


def error_response(status: int, code: str, message: str, **extra: object) -> web.Response:
    body: dict[str, object] = {"code": code, "message": message}
    body.update({k: v for k, v in extra.items() if v is not None})
    return web.json_response({"error": body}, status=status)


# Engine.IO's endpoint (python-socketio's default path).
SOCKETIO_PATH = "/socket.io/"


def _is_socket_upgrade(request: web.Request) -> bool:
    """A WebSocket upgrade on the Engine.IO endpoint: a connection, not a request."""
    return (
        request.path.startswith(SOCKETIO_PATH)
        and request.headers.get("Upgrade", "").lower() == "websocket"
    )


def steps_aside_for_sockets(mw: Middleware) -> Middleware:
    """Let WebSocket upgrades on the Engine.IO endpoint pass `mw` without entering it.

    aiohttp awaits each middleware around the handler, and for a WebSocket the handler
    returns when the socket closes: every middleware coroutine frame lives as long as the
    socket (~0.4 KB each, at 10,000 sockets). Handing back the inner handler's awaitable
    uncalled keeps this middleware out of the chain. None of ours means anything for a
    socket's lifetime: its request id, a latency that is the connection's duration, an
    error shape for a 101 response.
    """

    def wrapper(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
        if _is_socket_upgrade(request):
            return handler(request)
        return mw(request, handler)

    functools.update_wrapper(wrapper, mw)
    return web.middleware(wrapper)


@steps_aside_for_sockets
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Bind a request id (taken from X-Request-ID when sane) to every log line."""
    rid = request.headers.get("X-Request-ID", "")
    if not (0 < len(rid) <= 64 and rid.replace("-", "").isalnum()):
        rid = uuid.uuid4().hex
    structlog.contextvars.bind_contextvars(request_id=rid)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        response.headers["X-Request-ID"] = rid
        status = response.status
        return response
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.HTTP_LATENCY.labels(method=request.method, route=route, status=str(status)).observe(
            time.perf_counter() - started
        )


@web.middleware
def drain_guard(request: web.Request, handler: Handler) -> Awaitable[web.StreamResponse]:
    """While draining, refuse new Engine.IO handshakes with 503.

    Refusing at this level (not with a Socket.IO connect error, after which clients stop
    retrying) makes standard clients retry with backoff; through HAProxy the retry lands on
    a live instance. Requests of existing sessions (they carry `sid`) still pass. (A plain
    function returning the handler's awaitable: no frame kept for a socket's life.)
    """
    if (
        request.app[STATE].get("draining")
        and request.path.startswith(SOCKETIO_PATH)
        and "sid" not in request.query
    ):
        return _shutting_down()
    return handler(request)


async def _shutting_down() -> web.StreamResponse:
    return error_response(503, "unavailable", "This instance is shutting down")


@steps_aside_for_sockets
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as `{"error": {code, message, fields?}}` with the right status."""
    try:
        return await handler(request)
    except RateLimited as exc:
        metrics.RATE_LIMITED.labels(limit="http").inc()
        resp = web.json_response({"error": exc.to_dict()}, status=exc.status)
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    except ChatError as exc:
        return web.json_response({"error": exc.to_dict()}, status=exc.status)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        message = exc.reason if exc.status != 404 else NotFound.default_message
        resp = error_response(exc.status, code, message)
        if exc.status == 405 and "Allow" in exc.headers:
            resp.headers["Allow"] = exc.headers["Allow"]
        return resp
    except DATABASE_DOWN as exc:
        log.warning("database_unavailable", error=str(exc), path=request.path)
        err = Unavailable()
        resp = web.json_response({"error": err.to_dict()}, status=err.status)
        resp.headers["Retry-After"] = "1"
        return resp
    except Exception:
        metrics.ERRORS.labels(where="http").inc()
        log.exception("unhandled_error", method=request.method, path=request.path)
        return error_response(500, "internal_error", "Something went wrong")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: applied to every response, static files and errors included,
    but a WebSocket upgrade (101): these headers govern documents, and the connection keeps
    its response headers for its whole life (~1 KB per socket at 10,000 sockets)."""
    if response.status == 101:
        return
    h = response.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("Content-Security-Policy", CSP_DEFAULT)
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.path.startswith("/api/"):
        h.setdefault("Cache-Control", "no-store")
    if request.app[CONFIG].production:
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
