"""Fan-out without a task per recipient.

python-socketio's emit creates one asyncio task per recipient, each of which queues the
packet for that socket's writer task, which wakes up, encodes it and writes it. For a
message to a 10,000-member room that is 20,000 task switches, and the event loop stalls
for seconds (docs/contract.md §11 measured p99 2.4 s at 2 messages/s in such a room).

Here the packet is encoded once into a finished WebSocket frame and written straight to
each recipient's transport in one loop. A socket falls back to the library's queue when
the direct write would not be equivalent: it is still on long-polling or mid-upgrade, its
writer task is not idle (packets queued, or taken off the queue and not yet written:
order must be kept), its connection negotiated compression, or its write buffer is backed
up (a slow reader: the library's writer applies back-pressure).

The wrapper below also decides permessage-deflate: off. Browsers always offer it, and
aiohttp would accept it by default, costing ~100 KB of zlib state per connection and a
compression per recipient per message (the encode-once frame can't be shared); chat
messages are small. Measured in bench/ (see bench/README.md).

Per-socket memory, also measured there (tracemalloc over 3,000 idle sockets): Engine.IO's
packet queue gets list-backed containers (LeanQueue) and its pings come from one
PingScheduler instead of a sleeping task per socket.

All of this reaches into python-engineio, python-socketio and aiohttp internals, listed
and checked at start in `internals.py`: when one is missing, the server logs one
`fanout_disabled` warning and keeps to the libraries' own paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

import socketio
import structlog
from aiohttp import WSMsgType, web
from engineio import packet as eio_packet
from engineio.async_drivers import aiohttp as eio_aiohttp
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

from chat_server.realtime import internals

log = structlog.get_logger(__name__)

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

    def writer_idle(self) -> bool:
        """Nothing queued and the socket's writer task waiting for the next packet, so a
        frame written to the transport now is next on the wire.

        An empty queue alone is not enough: the writer takes a packet off the queue two
        loop turns before it writes it (python-engineio's `poll` awaits `queue.get()`
        through `wait_for`), and a direct write in between would overtake it.
        """
        return not self._queue and bool(self._getters)


class PingScheduler:
    """Sends every socket's Engine.IO pings from one task.

    python-engineio starts a background task per socket per ping (sleep pingInterval,
    then send PING): with its timer, future and coroutine frame, ~1.2 KB per socket held
    all the time, and 400 tasks created per second at 10,000 sockets. Every ping here
    waits pingInterval from the pong that scheduled it, so due times arrive in order and
    a deque is the whole timer wheel. Same protocol behaviour: a socket that has closed
    by the time its ping is due gets none, and the ping goes through the socket's `send`
    (its ping-timeout check and packet queue).
    """

    def __init__(self, eio: Any) -> None:
        self._eio = eio
        self._due: deque[tuple[float, Any]] = deque()
        self._task: asyncio.Task[None] | None = None

    def schedule(self, sock: Any) -> None:
        """Ping `sock` pingInterval seconds from now (what `_send_ping` would do)."""
        self._due.append((time.monotonic() + self._eio.ping_interval, sock))
        if self._task is None or self._task.done():
            self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while self._due:
            due, sock = self._due[0]
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
                continue
            self._due.popleft()
            if sock.closing or sock.closed:
                continue
            sock.last_ping = time.time()
            try:
                await sock.send(eio_packet.Packet(eio_packet.PING))
            except Exception:
                log.warning("ping_failed", sid=sock.sid, exc_info=True)

    async def close(self) -> None:
        """Stop pinging (shutdown)."""
        self._due.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def install(sio: socketio.AsyncServer) -> None:
    """Use FastWebSocket for this server's WebSocket connections, LeanQueue for its
    Engine.IO sockets' packet queues and one PingScheduler for their pings.

    Only when the internals these replace are as expected: a FastManager has checked them
    (and warned) already; with another manager the check runs here. Otherwise the server
    keeps the library's own classes."""
    fast_path = getattr(sio.manager, "fast_path", None)
    if fast_path is None:
        problems = internals.fast_path_problems()
        if problems:
            internals.warn_disabled(problems)
        fast_path = not problems
    if not fast_path:
        return
    eio = sio.eio
    eio._async = {**eio._async, "websocket": FastWebSocket}
    eio.create_queue = lambda *args, **kwargs: LeanQueue(*args, **kwargs)
    pings = PingScheduler(eio)
    eio.ping_scheduler = pings
    start_background_task = eio.start_background_task

    def start_task(target: Any, *args: Any, **kwargs: Any) -> Any:
        # AsyncSocket.schedule_ping hands its bound `_send_ping` to this server method.
        if getattr(target, "__func__", None) is AsyncSocket._send_ping and not args:
            pings.schedule(target.__self__)
            return None
        return start_background_task(target, *args, **kwargs)

    eio.start_background_task = start_task


async def stop_pings(sio: socketio.AsyncServer) -> None:
    """Shutdown: no more pings (the sockets are being closed)."""
    pings = getattr(sio.eio, "ping_scheduler", None)
    if pings is not None:
        await pings.close()


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
        # namespace -> sid -> the sid's rooms. A tuple, not a set: a socket is in a handful
        # of rooms that rarely change, and an empty set alone is 216 bytes per socket.
        self._sid_rooms: dict[str, dict[Any, tuple[Any, ...]]] = {}
        # False: a library internal used here is missing (one warning at start); every
        # method below then defers to the library's own, and `fanout.install` does too.
        problems = internals.fast_path_problems()
        self.fast_path = not problems
        if problems:
            internals.warn_disabled(problems)
            return
        self.pending_connect = _PendingMap()
        self.pending_disconnect = _PendingMap()

    def basic_enter_room(self, sid: Any, namespace: str, room: Any, eio_sid: Any = None) -> None:
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if not self.fast_path:
            return
        by_sid = self._sid_rooms.setdefault(namespace, {})
        rooms = by_sid.get(sid, ())
        if room not in rooms:
            by_sid[sid] = (*rooms, room)

    def basic_leave_room(self, sid: Any, namespace: str, room: Any) -> None:
        super().basic_leave_room(sid, namespace, room)
        if not self.fast_path:
            return
        by_sid = self._sid_rooms.get(namespace)
        if by_sid is not None and sid in by_sid:
            by_sid[sid] = tuple(r for r in by_sid[sid] if r != room)

    def basic_disconnect(self, sid: Any, namespace: str, **kwargs: Any) -> None:
        if not self.fast_path:
            super().basic_disconnect(sid, namespace, **kwargs)
            return
        rooms = self._sid_rooms.get(namespace, {}).pop(sid, ())
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
        if not self.fast_path:
            return list(super().get_rooms(sid, namespace))
        return [r for r in self._sid_rooms.get(namespace, {}).get(sid, ()) if r is not None]

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
        if (
            callback is None
            and self.fast_path
            and self._fast_emit(event, data, namespace, room, skip_sid)
        ):
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
            if ws is not None and sock.upgraded and sock.queue.writer_idle():
                writer = ws._writer
                transport = writer.transport if writer is not None else None
                if (
                    transport is not None
                    and not writer.compress
                    and not transport.is_closing()
                    and not writer.protocol.writing_paused
                    and transport.get_write_buffer_size() < DIRECT_WRITE_BUFFER_LIMIT
                ):
                    transport.write(frame)
                    continue
            sock.queue.put_nowait(eio_pkt)
        return True
