"""What every `on_<event>` handler of the `/chat` namespace shares: the per-socket state and
the `event` decorator (state lookup, auth check, validation with the event's schema from
schemas/socket_events.py, and the `{ok, ...}` / `{ok: false, error}` ack).

Must not: know any event in particular (the namespace and its mixins hold the handlers).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from chat_server import metrics
from chat_server.errors import (
    DATABASE_DOWN,
    ChatError,
    RateLimited,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)
from chat_server.services.auth import Principal
from schemas import load
from schemas.socket_events import client_payload_schema

log = structlog.get_logger(__name__)

INTERNAL_ERROR = {
    "ok": False,
    "error": {"code": "internal_error", "message": "Something went wrong"},
}


@dataclass(slots=True)
class SocketState:
    """What this instance knows about one of its sockets."""

    principal: Principal | None = None
    rooms: set[str] = field(default_factory=set)
    # Authenticated in the handshake, `authenticated` not sent yet (see `greet`).
    greet: bool = False


Handler = Callable[..., Awaitable[dict[str, Any]]]


def event(*, auth: bool = True) -> Callable[[Handler], Callable[..., Awaitable[dict[str, Any]]]]:
    """Wrap an `on_<event>` method: state lookup, auth check, validation, error acks.

    The payload schema is the event's own in the one table (schemas/socket_events.py)."""

    def decorate(fn: Handler) -> Callable[..., Awaitable[dict[str, Any]]]:
        name = fn.__name__.removeprefix("on_")
        schema = client_payload_schema(name)

        @functools.wraps(fn)
        async def wrapper(self: Any, sid: str, *args: Any) -> dict[str, Any]:
            state = self.sockets.get(sid)
            started = time.perf_counter()
            self.inflight += 1
            user_id = state.principal.user_id if state and state.principal else None
            outcome = "ok"
            try:
                with structlog.contextvars.bound_contextvars(sid=sid, user_id=user_id, event=name):
                    if state is None:
                        # The socket left while this event waited for its turn (its
                        # disconnect came in the same packets): nothing was done, and the
                        # client should retry once reconnected, not think it signed out.
                        raise Unavailable("Connection closed; retry")
                    if auth and state.principal is None:
                        raise Unauthenticated("Authenticate first")
                    if len(args) > 1:
                        raise ValidationFailed(
                            "Send one payload object",
                            fields={"_schema": ["Expected one argument."]},
                        )
                    if args and contains_binary(args[0]):
                        # marshmallow would take UTF-8 bytes for a string and 16 bytes
                        # for a UUID: payloads are JSON, binary attachments are refused.
                        raise ValidationFailed(
                            "Binary data is not accepted",
                            fields={"_schema": ["Binary attachments are not accepted."]},
                        )
                    payload = load(schema, args[0] if args else None)
                    result = await fn(self, sid, state, payload)
                    return {"ok": True, **result}
            except ChatError as exc:
                outcome = exc.code
                if isinstance(exc, RateLimited):
                    metrics.RATE_LIMITED.labels(limit=name).inc()
                return {"ok": False, "error": exc.to_dict()}
            except DATABASE_DOWN as exc:
                outcome = "unavailable"
                log.warning("database_unavailable", socket_event=name, error=str(exc))
                return {"ok": False, "error": Unavailable().to_dict()}
            except Exception:
                outcome = "internal_error"
                metrics.ERRORS.labels(where="socket").inc()
                log.exception("socket_handler_failed", socket_event=name, sid=sid)
                return INTERNAL_ERROR
            finally:
                self.inflight -= 1
                metrics.EVENTS_HANDLED.labels(event=name, outcome=outcome).inc()
                metrics.ACK_LATENCY.labels(event=name).observe(time.perf_counter() - started)

        return wrapper

    return decorate


def contains_binary(value: Any) -> bool:
    """Whether a decoded payload holds bytes anywhere (iterative: payloads may nest deeply)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes | bytearray | memoryview):
            return True
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def principal(state: SocketState) -> Principal:
    """The authenticated user of a socket (`event` has checked there is one)."""
    assert state.principal is not None
    return state.principal
