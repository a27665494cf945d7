"""The Socket.IO server object and its configuration."""

from __future__ import annotations

import inspect
import json
import re
from typing import Any

import orjson
import socketio
import structlog

from chat_server.config import Config
from chat_server.realtime import fanout

log = structlog.get_logger(__name__)

_UNKNOWN_EVENT = {"ok": False, "error": {"code": "unknown_event", "message": "Unknown event"}}
# The answer to an event packet whose JSON cannot be decoded (docs/contract.md §6: every packet
# with an ack id is answered). `validation_error`, like an HTTP body that is not JSON: a
# client's outbox must not retry it.
_NOT_JSON = {
    "ok": False,
    "error": {"code": "validation_error", "message": "Payload is not valid JSON"},
}
_BINARY_REFUSED = {
    "ok": False,
    "error": {"code": "validation_error", "message": "Binary attachments are not accepted"},
}
# A `\ud800`-`\udfff` escape in the packet text: orjson refuses an unpaired one, the
# stdlib decoder keeps it, and the schemas' text policy then refuses it field by field.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# Our protocol is JSON only, but a client may send bytes by mistake: a packet with a few
# binary attachments is assembled (each at most one Engine.IO packet) and then refused by
# validation with an error ack. A packet announcing more is a memory attack: python-socketio
# would buffer attachments until the announced count arrives, without a bound.
MAX_BINARY_ATTACHMENTS = 4
# What python-socketio's packet decoder raises on hostile input: ValueError for bad JSON
# or an unknown type, RecursionError when rebuilding a deeply nested binary packet,
# IndexError / KeyError / TypeError for placeholders that point nowhere.
_BAD_PACKET_ERRORS = (ValueError, RecursionError, IndexError, KeyError, TypeError)


def _refuse_constant(name: str) -> Any:
    """NaN and Infinity are not JSON; the stdlib fallback must not accept more than orjson."""
    raise ValueError(f"{name} is not JSON")


class _OrjsonCodec:
    """python-socketio's `json` hook: orjson is several times faster than the stdlib on the
    encode-once-per-emit path.

    orjson refuses text holding an unpaired surrogate escape (`"\\ud800"`, a JS string
    cut inside an emoji); the stdlib decodes it, so the packet reaches its handler and
    the schemas refuse it with a validation error instead of the packet being dropped.
    """

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:
            # A lone surrogate (orjson writes UTF-8 only): escaped ASCII JSON, never a
            # failed emit. Other unsupported types fail in the stdlib too.
            return json.dumps(obj, separators=(",", ":"), allow_nan=False)

    @staticmethod
    def loads(s: str | bytes, **_: Any) -> Any:
        try:
            return orjson.loads(s)
        except orjson.JSONDecodeError:
            text = s if isinstance(s, str) else s.decode("utf-8", errors="replace")
            if _SURROGATE_ESCAPE.search(text) is None:
                raise
            return json.loads(text, parse_constant=_refuse_constant)


class _HeaderCodec:
    """Decodes nothing: lets `_PacketHeader` read a packet's type, namespace and ack id
    when its JSON is undecodable."""

    @staticmethod
    def loads(s: str | bytes, **_: Any) -> Any:
        return None


class _PacketHeader(socketio.packet.Packet):
    """A packet's header only (type, attachment count, namespace, ack id)."""

    json = _HeaderCodec


def _failure(result: Any) -> dict[str, Any] | None:
    """The `error` of a handler's `{ok: false, error}` answer, None for anything else."""
    if isinstance(result, dict) and result.get("ok") is False:
        error = result.get("error")
        if isinstance(error, dict):
            return error
    return None


def _library_method_is(name: str, *params: str) -> bool:
    """Whether python-socketio's private `AsyncServer.<name>` still takes `params`: the
    overrides below rely on `_handle_event_internal` (to learn whether the client asked
    for an ack) and `_handle_connect` (to greet after the CONNECT packet)."""
    method = getattr(socketio.AsyncServer, name, None)
    if method is None:
        return False
    return list(inspect.signature(method).parameters) == ["self", *params]


_DISPATCH_KNOWN = _library_method_is(
    "_handle_event_internal", "server", "sid", "eio_sid", "data", "namespace", "id"
)
_CONNECT_KNOWN = _library_method_is("_handle_connect", "eio_sid", "namespace", "data")


class ChatSocketServer(socketio.AsyncServer):
    """AsyncServer that answers every client event it can attribute to a socket.

    - Events named like lifecycle events are refused before any handler runs
      (python-socketio would dispatch a client's `42["connect", ...]` to `connect`, and a
      non-string event name raises inside the library).
    - An event that fails without an ack id gets an `error` {code, message} event
      (docs/contract.md §6); with an ack id, the ack carries the error.
    - An event packet whose JSON is undecodable is still answered (ack or `error`).
    """

    async def _handle_connect(self, eio_sid: str, namespace: str | None, data: Any) -> None:
        """After python-socketio accepted a namespace connection and sent its CONNECT
        packet, let the namespace greet the socket (`greet`: `authenticated`)."""
        await super()._handle_connect(eio_sid, namespace, data)
        ns = namespace or "/"
        handler = self.namespace_handlers.get(ns)
        greet = getattr(handler, "greet", None)
        if greet is not None and self._attached(eio_sid, ns):
            await greet(self.manager.sid_from_eio_sid(eio_sid, ns))

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, id: int | None, data: Any
    ) -> None:
        event = data[0] if isinstance(data, list) and data else None
        if not isinstance(event, str) or event in self.reserved_events or len(event) > 64:
            if self._attached(eio_sid, namespace):
                await self._answer(eio_sid, namespace, id, _UNKNOWN_EVENT)
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_event_internal(
        self,
        server: socketio.AsyncServer,
        sid: str,
        eio_sid: str,
        data: Any,
        namespace: str,
        id: int | None,
    ) -> None:
        """Run one event's handler; a failure the client asked no ack for becomes an
        `error` event. With an ack id (or if the library changed this private method's
        shape) the library's own dispatch runs unchanged."""
        if id is not None or not _DISPATCH_KNOWN:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
            return
        result = await server._trigger_event(data[0], namespace, sid, *data[1:])
        error = _failure(result)
        if error is not None and self.manager.is_connected(sid, namespace):
            await self._send_error_event(eio_sid, namespace, error)

    def _attached(self, eio_sid: str, namespace: str | None) -> bool:
        """Whether this connection has joined `namespace` (only then can it be answered)."""
        ns = namespace or "/"
        sid = self.manager.sid_from_eio_sid(eio_sid, ns)
        return sid is not None and bool(self.manager.is_connected(sid, ns))

    async def _answer(
        self, eio_sid: str, namespace: str | None, id: int | None, result: dict[str, Any]
    ) -> None:
        """Answer an event the handlers never saw: the ack if it has an id, else `error`."""
        if id is not None:
            await self._send_packet(
                eio_sid,
                self.packet_class(
                    socketio.packet.ACK, namespace=namespace or "/", id=id, data=[result]
                ),
            )
        elif _DISPATCH_KNOWN:
            await self._send_error_event(eio_sid, namespace, result["error"])

    async def _send_error_event(
        self, eio_sid: str, namespace: str | None, error: dict[str, Any]
    ) -> None:
        """`error` {code, message} (docs/contract.md §6: exactly these two) to this one connection,
        never through a room."""
        body = {"code": error.get("code", "internal_error"), "message": error.get("message", "")}
        await self._send_packet(
            eio_sid,
            self.packet_class(
                socketio.packet.EVENT, namespace=namespace or "/", data=["error", body]
            ),
        )

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """Answer or close on an undecodable packet (bad JSON, unknown type, hostile binary).

        python-socketio raises for these; left alone, engineio logs a traceback per packet
        and keeps the socket, whose client then waits forever for an ack. An event packet
        with a readable header on a joined namespace is answered (ack, or `error` without
        an ack id) and the socket stays: its outbox gets a final answer instead of retrying
        forever. Anything else (unknown type, hostile binary packets, no readable header)
        closes the connection, like the JS server; a binary packet's ack is answered first.
        """
        try:
            await super()._handle_eio_message(eio_sid, data)
            pending = self._binary_packet.get(eio_sid)
            if pending is not None and pending.attachment_count > MAX_BINARY_ATTACHMENTS:
                raise ValueError(f"{pending.attachment_count} binary attachments announced")
        except _BAD_PACKET_ERRORS as exc:
            pending = self._binary_packet.pop(eio_sid, None)
            header = pending if pending is not None else _read_header(data)
            kind = header.packet_type if header is not None else None
            log.warning(
                "socket_packet_rejected",
                eio_sid=eio_sid,
                kind=type(exc).__name__,
                packet_type=kind,
                ack_id=header.id if header is not None else None,
                error=str(exc)[:200],
            )
            if header is not None and self._attached(eio_sid, header.namespace):
                if kind == socketio.packet.EVENT:
                    await self._answer(eio_sid, header.namespace, header.id, _NOT_JSON)
                    return
                if kind == socketio.packet.BINARY_EVENT and header.id is not None:
                    await self._answer(eio_sid, header.namespace, header.id, _BINARY_REFUSED)
            await self.eio.disconnect(eio_sid)


def _read_header(data: Any) -> socketio.packet.Packet | None:
    """The header of an undecodable text packet, or None when even that is unreadable."""
    if not isinstance(data, str):
        return None
    try:
        return _PacketHeader(encoded_packet=data)
    except _BAD_PACKET_ERRORS:
        return None


def create_socket_server(config: Config, client_manager: Any = None) -> ChatSocketServer:
    """The server with deliberate limits: heartbeat, payload size, CORS, no compression,
    and the encode-once fan-out (`fanout.FastManager`) unless a cluster manager is given."""
    if not (_DISPATCH_KNOWN and _CONNECT_KNOWN):
        log.warning(
            "socketio_internals_changed",
            detail="python-socketio's _handle_event_internal or _handle_connect changed: "
            "no `error` event for failed events without ack, or no `authenticated` after a "
            "handshake login (acks are unaffected)",
        )
    if client_manager is None:
        client_manager = fanout.FastManager()
    cors: list[str] | None = list(config.cors_origins) or None
    sio = ChatSocketServer(
        async_mode="aiohttp",
        client_manager=client_manager,
        json=_OrjsonCodec,
        cors_allowed_origins=cors,
        ping_interval=config.ping_interval_s,
        ping_timeout=config.ping_timeout_s,
        max_http_buffer_size=config.max_socket_payload_bytes,
        # Long-polling responses are small JSON; compressing them costs CPU for no gain.
        http_compression=False,
        logger=False,
        engineio_logger=False,
        transports=["polling", "websocket"],
    )
    fanout.install(sio)
    return sio
