"""The Socket.IO server object and its configuration."""

from __future__ import annotations

from typing import Any

import orjson
import socketio
import structlog

from chat_server.config import Config
from chat_server.realtime import fanout

log = structlog.get_logger(__name__)

_UNKNOWN_EVENT = {"ok": False, "error": {"code": "unknown_event", "message": "Unknown event"}}
# Our protocol is JSON only, but a client may send bytes by mistake: a packet with a few
# binary attachments is assembled (each at most one Engine.IO packet) and then refused by
# validation with an error ack. A packet announcing more is a memory attack: python-socketio
# would buffer attachments until the announced count arrives, without a bound.
MAX_BINARY_ATTACHMENTS = 4
# What python-socketio's packet decoder raises on hostile input: ValueError for bad JSON
# or an unknown type, RecursionError when rebuilding a deeply nested binary packet,
# IndexError / KeyError / TypeError for placeholders that point nowhere.
_BAD_PACKET_ERRORS = (ValueError, RecursionError, IndexError, KeyError, TypeError)


class _OrjsonCodec:
    """python-socketio's `json` hook: orjson is several times faster than the stdlib on the
    encode-once-per-emit path."""

    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(s: str | bytes, **_: Any) -> Any:
        return orjson.loads(s)


class ChatSocketServer(socketio.AsyncServer):
    """AsyncServer that refuses client events named like lifecycle events.

    python-socketio dispatches a client's `42["connect", ...]` to the `connect` handler and
    a non-string event name raises inside the library; both are refused here before any
    handler runs.
    """

    async def _handle_event(
        self, eio_sid: str, namespace: str | None, id: int | None, data: Any
    ) -> None:
        event = data[0] if isinstance(data, list) and data else None
        if not isinstance(event, str) or event in self.reserved_events or len(event) > 64:
            if id is not None:
                await self._send_packet(
                    eio_sid,
                    self.packet_class(
                        socketio.packet.ACK,
                        namespace=namespace or "/",
                        id=id,
                        data=[_UNKNOWN_EVENT],
                    ),
                )
            return
        await super()._handle_event(eio_sid, namespace, id, data)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        """Close a connection that sends an undecodable packet (bad JSON, unknown type).

        python-socketio raises ValueError for these; left alone, engineio logs a traceback
        per packet and keeps the socket, whose client then waits forever for an ack. Like
        the JS server, drop the connection: the client reconnects and retries.
        """
        try:
            await super()._handle_eio_message(eio_sid, data)
            pending = self._binary_packet.get(eio_sid)
            if pending is not None and pending.attachment_count > MAX_BINARY_ATTACHMENTS:
                del self._binary_packet[eio_sid]
                raise ValueError(f"{pending.attachment_count} binary attachments announced")
        except _BAD_PACKET_ERRORS as exc:
            self._binary_packet.pop(eio_sid, None)
            log.warning(
                "socket_packet_rejected",
                eio_sid=eio_sid,
                kind=type(exc).__name__,
                error=str(exc)[:200],
            )
            await self.eio.disconnect(eio_sid)


def create_socket_server(config: Config, client_manager: Any = None) -> ChatSocketServer:
    """The server with deliberate limits: heartbeat, payload size, CORS, no compression,
    and the encode-once fan-out (`fanout.FastManager`) unless a cluster manager is given."""
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
