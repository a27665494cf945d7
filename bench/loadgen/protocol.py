"""A lean Engine.IO v4 / Socket.IO v5 client over a hand-rolled websocket (RFC 6455).

Why not aiohttp's or python-socketio's client: holding 20,000 sockets and parsing 100,000+
frames per second on one core leaves no room for a task and a future per frame. This is an
`asyncio.Protocol`: bytes arrive in `data_received`, frames are cut out and dispatched inline,
with no task per connection and no await per frame.

Only what a Socket.IO client over the websocket transport needs is implemented:
- the HTTP/1.1 upgrade, optionally offering permessage-deflate (RFC 7692). Frames the
  server compresses are inflated; frames we send are never compressed (allowed per message).
- text frames, fragmentation, ping/pong and close control frames.
- Engine.IO: open `0{...}`, ping `2` -> pong `3`, close `1`.
- Socket.IO: `40/ns,{auth}` connect, `40/ns,{"sid"}` connected, `44/ns,{...}` refused,
  `42/ns,[event, ...]` events and `43/ns,<id>[...]` acks.

Client frames are masked with the all-zero key: still a masked frame as RFC 6455 requires
(servers unmask by XOR, which is then the identity), and it saves an XOR pass per send.
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import zlib
from typing import Any

# Engine.IO websocket URL path; python-socketio and socket.io share the default.
DEFAULT_PATH = "/socket.io/"
MAX_HEADER_BYTES = 16384
_ZERO_MASK = b"\x00\x00\x00\x00"
_DEFLATE_TAIL = b"\x00\x00\xff\xff"

# Connection states.
HTTP, EIO_OPEN, NS_CONNECTING, CONNECTED, CLOSED = range(5)


def ws_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """One final, masked (zero key) frame."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        hdr = bytes((first, 0x80 | n))
    elif n < 65536:
        hdr = bytes((first, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        hdr = bytes((first, 0x80 | 127)) + n.to_bytes(8, "big")
    return hdr + _ZERO_MASK + payload


_PONG_FRAME = ws_frame(b"3")


class Handler:
    """What a connection reports to; the worker implements it."""

    def on_connected(self, conn: SioConnection) -> None: ...

    def on_failed(self, conn: SioConnection, reason: str) -> None: ...

    def on_event(self, conn: SioConnection, text: str) -> None: ...

    def on_ack(self, conn: SioConnection, ack_id: int, text: str, start: int) -> None: ...

    def on_closed(self, conn: SioConnection, reason: str) -> None: ...


class SioConnection(asyncio.Protocol):
    """One Socket.IO client socket on one websocket."""

    __slots__ = (
        "_ns_ack",
        "_ns_connect",
        "_ns_disconnect",
        "_ns_error",
        "_ns_event",
        "_ns_prefix",
        "auth",
        "buf",
        "close_reason",
        "deflate",
        "frag",
        "frag_compressed",
        "handler",
        "host",
        "inflater",
        "key",
        "meta",
        "namespace",
        "path",
        "sid",
        "state",
        "t_connected",
        "t_start",
        "transport",
    )

    def __init__(
        self,
        key: Any,
        handler: Handler,
        host: str,
        path: str,
        namespace: str,
        auth: str,
        deflate: bool,
        meta: Any = None,
    ):
        self.key = key
        self.handler = handler
        self.host = host
        self.path = path
        self.namespace = namespace
        self.auth = auth
        self.deflate = deflate
        self.meta = meta
        self.transport: asyncio.Transport | None = None
        self.state = HTTP
        self.buf = b""
        self.frag: list[bytes] | None = None
        self.frag_compressed = False
        self.inflater: Any = None
        self.t_start = time.perf_counter()
        self.t_connected = 0.0
        self.sid = ""
        self.close_reason = ""
        ns = "" if namespace == "/" else namespace + ","
        self._ns_prefix = ns
        self._ns_connect = "40" + ns
        self._ns_error = "44" + ns
        self._ns_event = "42" + ns
        self._ns_ack = "43" + ns
        self._ns_disconnect = "41" + ns

    # -- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        ext = (
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            if self.deflate
            else ""
        )
        req = (
            f"GET {self.path}?EIO=4&transport=websocket HTTP/1.1\r\n"
            f"Host: {self.host}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            f"{ext}"
            "\r\n"
        )
        transport.write(req.encode())

    def connection_lost(self, exc: Exception | None) -> None:
        reason = self.close_reason or (f"lost: {exc!r}" if exc else "closed by server")
        prev = self.state
        self.state = CLOSED
        if prev == CONNECTED:
            self.handler.on_closed(self, reason)
        elif prev != CLOSED:
            self.handler.on_failed(self, reason)

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        if self.state == HTTP:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEADER_BYTES:
                    self._fail("oversized HTTP response")
                else:
                    self.buf = buf
                return
            head = buf[:end].decode("latin-1")
            buf = buf[end + 4 :]
            status = head.split("\r\n", 1)[0]
            if " 101 " not in status + " ":
                self._fail(f"upgrade refused: {status[:80]}")
                return
            lower = head.lower()
            if self.deflate and "permessage-deflate" in lower:
                self.inflater = zlib.decompressobj(-15)
            self.state = EIO_OPEN
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0 = buf[pos]
            ln = buf[pos + 1] & 0x7F
            hl = 2
            if ln == 126:
                if n - pos < 4:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                hl = 4
            elif ln == 127:
                if n - pos < 10:
                    break
                ln = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                hl = 10
            end = pos + hl + ln
            if end > n:
                break
            payload = buf[pos + hl : end]
            pos = end
            opcode = b0 & 0x0F
            if opcode == 0x1 or opcode == 0x2:
                if b0 & 0x80:
                    if b0 & 0x40:
                        payload = self._inflate(payload)
                    self._on_message(payload)
                else:
                    self.frag = [payload]
                    self.frag_compressed = bool(b0 & 0x40)
            elif opcode == 0x0:
                if self.frag is None:
                    self._fail("continuation without a start")
                    return
                self.frag.append(payload)
                if b0 & 0x80:
                    whole = b"".join(self.frag)
                    self.frag = None
                    if self.frag_compressed:
                        whole = self._inflate(whole)
                    self._on_message(whole)
            elif opcode == 0x9:
                self._write(ws_frame(payload, 0xA))
            elif opcode == 0x8:
                self.close_reason = self.close_reason or "websocket close frame"
                self._write(ws_frame(payload[:2], 0x8))
                if self.transport is not None:
                    self.transport.close()
                return
            if self.state == CLOSED:
                return
        self.buf = buf[pos:] if pos < n else b""

    # -- sending -----------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self._write(ws_frame(text.encode()))

    def emit(self, event_json: str, ack_id: int | None = None) -> None:
        """`event_json` is the already-encoded array `["event", {...}]`."""
        if ack_id is None:
            self._write(ws_frame((self._ns_event + event_json).encode()))
        else:
            self._write(ws_frame(f"{self._ns_event}{ack_id}{event_json}".encode()))

    def close(self, reason: str = "closed by client") -> None:
        if self.state == CLOSED or self.transport is None:
            return
        self.close_reason = reason
        try:
            self._write(ws_frame(b"\x03\xe8", 0x8))
        finally:
            self.transport.close()

    @property
    def alive(self) -> bool:
        return self.state == CONNECTED

    # -- internals ---------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_closing():
            t.write(data)

    def _inflate(self, payload: bytes) -> bytes:
        if self.inflater is None:
            self._fail("compressed frame without permessage-deflate")
            return b""
        return self.inflater.decompress(payload + _DEFLATE_TAIL)

    def _fail(self, reason: str) -> None:
        self.close_reason = reason
        if self.transport is not None:
            self.transport.close()

    def _on_message(self, payload: bytes) -> None:
        text = payload.decode("utf-8", "replace")
        if not text:
            return
        kind = text[0]
        if kind == "4":
            if self.state == CONNECTED:
                if text.startswith(self._ns_event):
                    self.handler.on_event(self, text)
                    return
                if text.startswith(self._ns_ack):
                    start = len(self._ns_ack)
                    j = start
                    while j < len(text) and text[j].isdigit():
                        j += 1
                    if j > start:
                        self.handler.on_ack(self, int(text[start:j]), text, j)
                    return
                if text.startswith(self._ns_disconnect):
                    self.close("server disconnected the namespace")
                    return
            elif self.state == NS_CONNECTING:
                if text.startswith(self._ns_connect):
                    self.state = CONNECTED
                    self.t_connected = time.perf_counter()
                    self.sid = text[len(self._ns_connect) :]
                    self.handler.on_connected(self)
                    return
                if text.startswith(self._ns_error):
                    self._fail("refused: " + text[len(self._ns_error) :][:200])
                    return
                # Events sent during the server's connect handler (e.g. `unread`) may
                # precede the CONNECT packet: ignore them.
        elif kind == "2":
            self._write(_PONG_FRAME)
        elif kind == "0":
            if self.state == EIO_OPEN:
                self.state = NS_CONNECTING
                self.send_text(self._ns_connect + self.auth if self.auth else self._ns_connect)
        elif kind == "1":
            self.close("engine.io close")
