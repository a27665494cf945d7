"""Fan-out without a task per recipient.

python-socketio's emit creates one asyncio task per recipient, each of which queues the
packet for that socket's writer task, which wakes up, encodes it and writes it. For a
message to a 10,000-member room that is 20,000 task switches, and the event loop stalls
for seconds (DESIGN.md §11 measured p99 2.4 s at 2 messages/s in such a room).

Here the packet is encoded once into a finished WebSocket frame and written straight to
each recipient's transport in one loop. A socket falls back to the library's queue when
the direct write would not be equivalent: it is still on long-polling or mid-upgrade, it
has packets queued (order must be kept), its connection negotiated compression, or its
write buffer is backed up (a slow reader: the library's writer applies back-pressure).

The wrapper below also decides permessage-deflate: off. Browsers always offer it, and
aiohttp would accept it by default, costing ~100 KB of zlib state per connection and a
compression per recipient per message (the encode-once frame can't be shared); chat
messages are small. Measured in bench/ (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterable
from typing import Any

import socketio
from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from socketio import packet as sio_packet

# Write directly only while the socket's unsent bytes stay below this, well under the
# transport's high-water mark (64 KiB): once a slow reader backs up, the library's writer
# (which waits for the transport to drain) takes over for that socket, and a paused
# writer never has frames overtaken by direct writes.
DIRECT_WRITE_BUFFER_LIMIT = 16 * 1024
# Negotiating permessage-deflate is refused (see the module docstring).
WEBSOCKET_COMPRESSION = False


class FastWebSocket(eio_aiohttp.WebSocket):
    """python-engineio's aiohttp WebSocket wrapper, plus: compression off, and the
    WebSocketResponse registered on its Engine.IO socket for the direct-write path."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=WEBSOCKET_COMPRESSION
        )
        await self._sock.prepare(request)
        self.environ = environ
        eio_socket = getattr(self.handler, "__self__", None)
        if eio_socket is not None:
            eio_socket.fast_ws = self._sock
        try:
            await self.handler(self)
        finally:
            if eio_socket is not None:
                eio_socket.fast_ws = None
        return self._sock


class _ListDeque(list[Any]):
    """The few deque methods asyncio's Queue and Event call, on a list: an empty deque
    allocates a 64-slot block (~700 bytes), an empty list 56 bytes. Fine for the short
    queues here (popleft is O(n) in the handful of waiting items)."""

    __slots__ = ()

    def popleft(self) -> Any:
        return self.pop(0)


class LeanQueue(asyncio.Queue[Any]):
    """asyncio.Queue with list-backed storage and waiter lists.

    Engine.IO keeps one queue per socket for its life (packets for the socket's writer
    task); with deques, its four empty buffers (items, getters, putters, the `join`
    event's waiters) cost ~2.9 KB per connection, with lists ~0.2 KB. Same semantics:
    only the containers differ.
    """

    def __init__(self, maxsize: int = 0) -> None:
        super().__init__(maxsize)
        self._getters = _ListDeque()
        self._putters = _ListDeque()
        self._finished._waiters = _ListDeque()  # type: ignore[attr-defined]

    def _init(self, maxsize: int) -> None:
        self._queue = _ListDeque()


def install(sio: socketio.AsyncServer) -> None:
    """Use FastWebSocket for this server's WebSocket connections, and LeanQueue for its
    Engine.IO sockets' packet queues."""
    sio.eio._async = {**sio.eio._async, "websocket": FastWebSocket}
    sio.eio.create_queue = lambda *args, **kwargs: LeanQueue(*args, **kwargs)


def _frame(payload: bytes) -> bytes:
    """An unmasked, uncompressed, final text frame (RFC 6455 §5.2)."""
    first = 0x80 | WSMsgType.TEXT
    n = len(payload)
    if n < 126:
        header = struct.pack("!BB", first, n)
    elif n < 65536:
        header = struct.pack("!BBH", first, 126, n)
    else:
        header = struct.pack("!BBQ", first, 127, n)
    return header + payload


class _SidSet(dict[Any, None]):
    """An insertion-ordered set with the list methods python-socketio's manager calls on
    its pending lists (`append`, `remove`, `in`, `len`), each O(1) instead of O(n)."""

    def append(self, sid: Any) -> None:
        self[sid] = None

    def remove(self, sid: Any) -> None:
        del self[sid]


class _PendingMap(dict[Any, Any]):
    """python-socketio creates `pending_connect[namespace] = []`; keep sets instead, so a
    ramp of thousands of connects is not quadratic."""

    def __setitem__(self, namespace: Any, sids: Any) -> None:
        super().__setitem__(
            namespace, sids if isinstance(sids, _SidSet) else _SidSet.fromkeys(sids)
        )


class FastManager(socketio.AsyncManager):
    """AsyncManager whose emits without callbacks take the encode-once path, and whose
    bookkeeping is O(1) per socket.

    The library finds a disconnecting socket's rooms by scanning every room of the
    namespace; with a user room and a session room per socket that made each disconnect
    O(sockets) and a mass disconnect quadratic. Here each socket's rooms are indexed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pending_connect = _PendingMap()
        self.pending_disconnect = _PendingMap()
        self._sid_rooms: dict[tuple[str, Any], set[Any]] = {}

    def basic_enter_room(self, sid: Any, namespace: str, room: Any, eio_sid: Any = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        self._sid_rooms.setdefault((namespace, sid), set()).add(room)

    def basic_leave_room(self, sid: Any, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        rooms = self._sid_rooms.get((namespace, sid))
        if rooms is not None:
            rooms.discard(room)

    def basic_disconnect(self, sid: Any, namespace: str, **kwargs: Any) -> None:
        rooms = self._sid_rooms.pop((namespace, sid), set())
        if namespace in self.rooms:
            # Leave every room but the sid's own and `None` (the connection table) first,
            # as the library does, so lookups by sid keep working until the end.
            for room in sorted(rooms, key=lambda r: r is None or r == sid):
                super().basic_leave_room(sid, namespace, room)
        self.callbacks.pop(sid, None)
        for pending in (self.pending_connect, self.pending_disconnect):
            sids = pending.get(namespace)
            if sids is not None and sid in sids:
                sids.remove(sid)
                if not sids:
                    del pending[namespace]

    def get_rooms(self, sid: Any, namespace: str) -> list[Any]:
        return [r for r in self._sid_rooms.get((namespace, sid), ()) if r is not None]

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        room = to or room
        if callback is None and self._fast_emit(event, data, namespace, room, skip_sid):
            return
        await super().emit(event, data, namespace, room=room, skip_sid=skip_sid, callback=callback)

    def _fast_emit(self, event: str, data: Any, namespace: str, room: Any, skip_sid: Any) -> bool:
        """Deliver to every local participant; False when the packet needs the library
        path (binary attachments)."""
        if namespace not in self.rooms:
            return True
        if isinstance(data, tuple):
            args = list(data)
        elif data is not None:
            args = [data]
        else:
            args = []
        pkt = self.server.packet_class(sio_packet.EVENT, namespace=namespace, data=[event, *args])
        encoded = pkt.encode()
        if isinstance(encoded, list):
            return False
        eio_pkt = eio_packet.Packet(eio_packet.MESSAGE, encoded)
        frame = _frame(eio_pkt.encode().encode())
        skip: Iterable[Any] = skip_sid if isinstance(skip_sid, list) else (skip_sid,)
        skip_set = set(skip)
        sockets = self.server.eio.sockets
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip_set:
                continue
            sock = sockets.get(eio_sid)
            if sock is None or sock.closed:
                continue
            ws = getattr(sock, "fast_ws", None)
            if ws is not None and sock.upgraded and sock.queue.empty():
                writer = ws._writer
                transport = writer.transport if writer is not None else None
                if (
                    transport is not None
                    and not writer.compress
                    and not transport.is_closing()
                    and not writer.protocol._paused
                    and transport.get_write_buffer_size() < DIRECT_WRITE_BUFFER_LIMIT
                ):
                    transport.write(frame)
                    continue
            sock.queue.put_nowait(eio_pkt)
        return True
