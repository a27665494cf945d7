"""The `/chat` namespace: one thin `on_<event>` per documented client event (docs/contract.md §6).

Each handler validates its payload with `schemas/`, calls one domain service and answers
the ack with `{ok: true, ...}` or `{ok: false, error: {code, message}}`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
import structlog

from chat_server import metrics
from chat_server.errors import (
    DATABASE_DOWN,
    ChatError,
    InvalidToken,
    NotFound,
    RateLimited,
    TooManyConnections,
    Unauthenticated,
    Unavailable,
    ValidationFailed,
)
from chat_server.realtime.deadlines import Deadlines
from chat_server.realtime.rooms import user_room
from chat_server.services.auth import Principal
from chat_server.services.posting import Draft
from chat_server.services.registry import Services
from schemas import load
from schemas.socket_events import client_payload_schema

log = structlog.get_logger(__name__)

# docs/contract.md §6: a socket that connected without a token has this long to authenticate.
AUTH_TIMEOUT_S = 10.0
# Grace after an access token's expiry before its socket is dropped, so a client that
# refreshes right at expiry is not cut off by clock skew or a slow round trip.
TOKEN_EXPIRY_GRACE_S = 5.0
ACCESS_COOKIE = "chat_access"
# Our access tokens are ~400 bytes; anything far larger is not one.
MAX_TOKEN_CHARS = 4096

_INTERNAL_ERROR = {
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
        async def wrapper(self: ChatNamespace, sid: str, *args: Any) -> dict[str, Any]:
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
                    if args and _contains_binary(args[0]):
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
                return _INTERNAL_ERROR
            finally:
                self.inflight -= 1
                metrics.EVENTS_HANDLED.labels(event=name, outcome=outcome).inc()
                metrics.ACK_LATENCY.labels(event=name).observe(time.perf_counter() - started)

        return wrapper

    return decorate


class ChatNamespace(socketio.AsyncNamespace):
    """Every client event of docs/contract.md §6."""

    def __init__(self, namespace: str, services: Callable[[], Services]):
        super().__init__(namespace)
        self._services = services
        self.sockets: dict[str, SocketState] = {}
        # Client events being handled right now; shutdown waits for them to finish.
        self.inflight = 0
        # Set when the instance starts shutting down: new connections are refused.
        self.draining = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # Authentication windows and token expiries, one deadline per socket.
        self._deadlines = Deadlines(self._deadline_passed)

    @property
    def services(self) -> Services:
        return self._services()

    async def trigger_event(self, event_name: str, *args: Any) -> Any:
        if event_name not in ("connect", "disconnect") and not hasattr(
            ChatNamespace, "on_" + event_name
        ):
            return {"ok": False, "error": {"code": "unknown_event", "message": "Unknown event"}}
        return await super().trigger_event(event_name, *args)

    # -- lifecycle ---------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Handshake: authenticate from `auth.token` (or the browser cookie) or wait for
        the `authenticate` event; a bad token is refused with `Invalid token`."""
        state = SocketState()
        try:
            token = _token_from(auth, environ)
            who = await self.services.auth.authenticate(token) if token is not None else None
            if self.draining:
                # Only a handshake already past the HTTP guard (api/middleware.drain_guard).
                raise Unavailable("This instance is shutting down")
            self.sockets[sid] = state
            if who is None:
                self._deadlines.set(sid, AUTH_TIMEOUT_S)
            else:
                await self._admit(sid, state, who)
                state.greet = True
        except Unavailable as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code=exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "Service unavailable", {"code": exc.code, "message": exc.message}
            ) from None
        except TooManyConnections as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code=exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "Too many connections", {"code": exc.code, "message": exc.message}
            ) from None
        except ChatError as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code=exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "Invalid token", {"code": exc.code, "message": exc.message}
            ) from None
        except DATABASE_DOWN as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code="unavailable").inc()
            log.warning("connect_database_unavailable", error=str(exc))
            raise socketio.exceptions.ConnectionRefusedError(
                "Service unavailable", {"code": "unavailable", "message": "Retry shortly"}
            ) from None
        metrics.CONNECTS.inc()
        metrics.ACTIVE_CONNECTIONS.inc()

    async def greet(self, sid: str) -> None:
        """`authenticated` for a handshake login (docs/contract.md §6), called by the server after
        the CONNECT packet: a listener added in a client's `connect` handler sees it too."""
        state = self.sockets.get(sid)
        if state is None or not state.greet or state.principal is None:
            return
        state.greet = False
        who = state.principal
        await self.emit("authenticated", {"userId": who.user_id, "username": who.username}, to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        state = self._forget(sid)
        if state is None:
            return
        metrics.DISCONNECTS.inc()
        metrics.ACTIVE_CONNECTIONS.dec()
        if state.principal is None:
            return
        who = state.principal
        try:
            await self.services.typing.stop_all(who.user_id)
            await self.services.presence.disconnected(who.user_id, sid)
        except Exception:
            log.warning("disconnect_cleanup_failed", sid=sid, user_id=who.user_id, exc_info=True)

    # -- client events -----------------------------------------------------------------

    @event(auth=False)
    async def on_authenticate(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Authenticate a token-less socket, or extend a live one with a fresh token."""
        try:
            who = await self.services.auth.authenticate(data["token"])
            if state.principal is not None and state.principal.user_id != who.user_id:
                raise InvalidToken("Token belongs to another user")
        except ChatError as exc:
            await self.emit("auth_error", {"message": exc.message, "code": exc.code}, to=sid)
            raise
        if state.principal is None:
            await self._admit(sid, state, who)
        else:
            # A fresh token for the same user: keep the stored name learnt on admission.
            state.principal = dataclasses.replace(who, username=state.principal.username)
            self._arm_expiry(sid, state)
        assert state.principal is not None
        body = {"userId": who.user_id, "username": state.principal.username}
        await self.emit("authenticated", body, to=sid)
        return body

    @event()
    async def on_send_message(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        draft = Draft.from_payload(who.user_id, who.username, data)
        message, _ = await self.services.messages.send(draft, data["room_id"])
        return {"message": message}

    @event()
    async def on_sync(self, sid: str, state: SocketState, data: dict[str, Any]) -> dict[str, Any]:
        return await self.services.messages.sync(
            user_id=_who(state).user_id, rooms=data["rooms"], changes=data.get("changes")
        )

    @event()
    async def on_send_dm(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        draft = Draft.from_payload(who.user_id, who.username, data)
        message, _ = await self.services.direct.send(draft, data["recipient_id"])
        return {"message": message}

    @event()
    async def on_join_room(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        room = await self.services.rooms.join(who.user_id, who.username, data["room_id"])
        return {"room": room}

    @event()
    async def on_leave_room(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        await self.services.rooms.leave(_who(state).user_id, data["room_id"])
        return {"roomId": str(data["room_id"])}

    @event()
    async def on_typing_start(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        await self.services.limiter.hit("typing", who.user_id)
        room_id = await self._typing_room(state, data)
        await self.services.typing.start(who.user_id, room_id)
        return {"roomId": room_id}

    @event()
    async def on_typing_stop(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        await self.services.limiter.hit("typing", _who(state).user_id)
        room_id = await self._typing_room(state, data)
        await self.services.typing.stop_requested(_who(state).user_id, room_id)
        return {"roomId": room_id}

    @event()
    async def on_mark_read(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.services.reads.mark_read(
            _who(state).user_id,
            seq=data["seq"],
            room_id=data.get("room_id"),
            other_user_id=data.get("user_id"),
        )

    @event()
    async def on_delivered(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """The client received everything up to `seq` in a room or DM (delivery receipt)."""
        return await self.services.reads.mark_delivered(
            _who(state).user_id,
            seq=data["seq"],
            room_id=data.get("room_id"),
            other_user_id=data.get("user_id"),
        )

    @event()
    async def on_edit_message(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Edit one's own message; the room gets `message_updated` (docs/contract.md §12)."""
        message = await self.services.edits.edit(
            _who(state).user_id, data["room_id"], data["message_id"], data["content"]
        )
        return {"message": message}

    @event()
    async def on_delete_message(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Delete a message (author, room owner/admin); answers the tombstone."""
        message = await self.services.edits.delete(
            _who(state).user_id, data["room_id"], data["message_id"]
        )
        return {"message": message}

    def session_sids(self, session_id: str) -> list[str]:
        """This instance's sockets of one login session (a logout disconnects them)."""
        return [
            sid
            for sid, state in self.sockets.items()
            if state.principal is not None and state.principal.session_id == session_id
        ]

    async def follow_membership(self, sid: str, room_id: str, joined: bool) -> None:
        """Move one local socket into or out of a room (membership changed elsewhere)."""
        state = self.sockets.get(sid)
        if state is None:
            return
        if joined:
            await self.enter_room(sid, room_id)
            state.rooms.add(room_id)
        else:
            await self.leave_room(sid, room_id)
            state.rooms.discard(room_id)

    # -- internals ---------------------------------------------------------------------

    async def _typing_room(self, state: SocketState, data: dict[str, Any]) -> str:
        """The room typing refers to; it must be one of this socket's rooms."""
        if "user_id" in data:
            room = await self.services.direct.room_with(_who(state).user_id, data["user_id"])
            room_id = str(room) if room else ""
        else:
            room_id = str(data["room_id"])
        if room_id not in state.rooms:
            raise NotFound("Room not found")
        return room_id

    async def _admit(self, sid: str, state: SocketState, who: Principal) -> None:
        """Mark the socket authenticated and enter it into its user room and chat rooms.

        (No per-session room: one Socket.IO room per socket costs ~3 KB per connection;
        a logout finds its session's sockets with `session_sids` instead.)"""
        await self.services.presence.check_capacity(who.user_id)
        state.principal = who
        self._arm_expiry(sid, state)
        await self.enter_room(sid, user_room(who.user_id))
        arrival = await self.services.reads.arrival(who.user_id)
        if arrival.username and arrival.username != who.username:
            # Renamed since the token was issued: events name the user as they are now.
            who = state.principal = dataclasses.replace(who, username=arrival.username)
        for room_id in arrival.room_ids:
            await self.enter_room(sid, room_id)
            state.rooms.add(room_id)
        # What happened while away: unread counts, and DMs received while offline.
        await self.emit("unread", arrival.unread, to=sid)
        for message in arrival.direct_messages:
            await self.emit("new_dm", {"message": message}, to=sid)
        # Last: a handshake refused by a failure above must not leave a ghost connection
        # in the presence registry (a refused socket gets no disconnect handler call).
        await self.services.presence.connected(who.user_id, who.username, sid)

    def _forget(self, sid: str) -> SocketState | None:
        self._deadlines.cancel(sid)
        return self.sockets.pop(sid, None)

    def _arm_expiry(self, sid: str, state: SocketState) -> None:
        """Drop the socket when its access token expires unless a fresh one arrives."""
        assert state.principal is not None
        delay = max(0.0, state.principal.expires_at - time.time()) + TOKEN_EXPIRY_GRACE_S
        self._deadlines.set(sid, delay)

    def _deadline_passed(self, sid: str) -> None:
        """A socket's deadline: authenticate in time, or its token ran out."""
        state = self.sockets.get(sid)
        if state is not None:
            self._spawn(
                self._drop_unauthenticated if state.principal is None else self._drop_expired, sid
            )

    async def close(self) -> None:
        """Shutdown: no more deadlines fire."""
        await self._deadlines.close()

    def _spawn(self, fn: Callable[[str], Awaitable[Any]], sid: str) -> None:
        task = asyncio.ensure_future(fn(sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_unauthenticated(self, sid: str) -> None:
        state = self.sockets.get(sid)
        if state is not None and state.principal is None:
            await self.emit(
                "auth_error", {"message": "Authentication timeout", "code": "auth_timeout"}, to=sid
            )
            await self.disconnect(sid)

    async def _drop_expired(self, sid: str) -> None:
        state = self.sockets.get(sid)
        if (
            state is not None
            and state.principal is not None
            and state.principal.expires_at < time.time()
        ):
            await self.emit(
                "auth_error", {"message": "Token expired", "code": "token_expired"}, to=sid
            )
            await self.disconnect(sid)


def _contains_binary(value: Any) -> bool:
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


def _who(state: SocketState) -> Principal:
    assert state.principal is not None
    return state.principal


def _token_from(auth: Any, environ: dict[str, Any]) -> str | None:
    """The handshake token: `auth: {token}` first, then the browser's httpOnly cookie."""
    if isinstance(auth, dict) and "token" in auth:
        token = auth["token"]
        if (
            not isinstance(token, str)
            or not token
            or len(token) > MAX_TOKEN_CHARS
            or not token.isascii()  # ours are; a lone surrogate would crash the JWT decoder
        ):
            raise InvalidToken()
        return token
    raw = environ.get("HTTP_COOKIE")
    if raw:
        try:
            cookie = SimpleCookie(raw)
        except CookieError:
            return None
        if ACCESS_COOKIE in cookie and cookie[ACCESS_COOKIE].value:
            return cookie[ACCESS_COOKIE].value
    return None
