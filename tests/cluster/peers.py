"""A test client that survives what the cluster tests do to the servers, and the checks
that nothing was lost.

`Peer` follows docs/contract.md §7 with its own small loop (independent of chat_server.client,
so these tests judge the server, not one client library):

- it connects with a fresh python-socketio `AsyncClient` per attempt (python-socketio's
  reconnection off), through HAProxy with a cookie jar that keeps HAProxy's stickiness
  cookie (aiohttp ignores cookies from IP hosts unless the jar is `unsafe`);
- after every (re)connect it calls `sync` with its last seq per room before it counts as
  connected again;
- `send` gives each message a clientMsgId and retries it, with the same id, after a lost
  connection, an ack timeout, or a retryable error ack (`unavailable`), until it is acked;
- every message seen (live `new_message`, send acks, `sync` pages) goes through `ingest`,
  which delivers each seq once and in order and fills gaps with `sync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import aiohttp
import socketio

NS = "/chat"
STICKY_COOKIE = "CHATSERVER"
ACK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 5.0
# A send not acked after this long fails the test (the cluster lost it for good).
SEND_DEADLINE_S = 45.0
# A gap still open after this long is filled with `sync` (emits may overtake each other).
GAP_FILL_DELAY_S = 0.3
RETRYABLE = {"unavailable", "internal_error"}
RECORDED = (
    "new_dm",
    "unread",
    "presence",
    "user_typing",
    "user_stopped_typing",
    "user_joined",
    "user_left",
    "session_revoked",
    "server_shutdown",
    "auth_error",
    "unread",
)


class NotConnected(Exception):
    pass


class Peer:
    """One user's connection, reconnecting and resynchronising by itself."""

    def __init__(
        self,
        name: str,
        url: str,
        token: str,
        *,
        transports: Iterable[str] = ("websocket",),
    ):
        self.name = name
        self.url = url
        self.token = token
        self.transports = list(transports)
        self.http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
        )
        self.sio: socketio.AsyncClient | None = None
        self.connected = asyncio.Event()
        self._lost = asyncio.Event()
        self._closed = False
        # Cleared, the peer stays away after losing its connection until it is set again
        # (a client that is slow to come back, so that it misses what happens meanwhile).
        self.may_connect = asyncio.Event()
        self.may_connect.set()
        self._task: asyncio.Task[None] | None = None
        self._gap_tasks: dict[str, asyncio.Task[None]] = {}
        # Delivery state per room: last delivered seq, out-of-order buffer, delivered list.
        self.last_seq: dict[str, int] = {}
        self.buffer: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.delivered: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.live: list[dict[str, Any]] = []  # every new_message as it arrived
        self.events: dict[str, list[Any]] = defaultdict(list)
        self.acked: list[dict[str, Any]] = []
        self.error_acks: list[str] = []
        self.connects = 0
        self.failed_connects = 0
        self.disconnects = 0
        self.duplicates_dropped = 0

    # -- connection ------------------------------------------------------------------------

    def track(self, room_id: str, last_seq: int = 0) -> None:
        """Follow a room from `last_seq` on (sync asks for what comes after it)."""
        self.last_seq.setdefault(room_id, last_seq)

    async def start(self, timeout: float = 20.0) -> Peer:
        self._task = asyncio.create_task(self._run(), name=f"peer-{self.name}")
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"{self.name} could not connect to {self.url}") from None
        return self

    async def place(self, where: str, attempts: int = 15) -> Peer:
        """Reconnect through HAProxy until it puts this peer on instance `where` (HAProxy
        balances handshakes by itself; its stickiness cookie tells where one landed).
        The counters start from zero afterwards."""
        for _ in range(attempts):
            if self.sticky == where:
                self.connects, self.disconnects, self.failed_connects = 1, 0, 0
                return self
            await self.drop()
            try:
                await asyncio.wait_for(self.connected.wait(), 20)
            except TimeoutError:
                raise AssertionError(f"{self.name} could not reconnect") from None
        raise AssertionError(f"HAProxy never put {self.name} on {where} (now {self.sticky})")

    @property
    def sticky(self) -> str | None:
        """The instance HAProxy's cookie currently points at."""
        for cookie in self.http.cookie_jar:
            if cookie.key == STICKY_COOKIE:
                return cookie.value
        return None

    async def _run(self) -> None:
        delay = 0.1
        while not self._closed:
            await self.may_connect.wait()
            sio = socketio.AsyncClient(reconnection=False, http_session=self.http)
            lost = asyncio.Event()
            self._register(sio, lost)
            try:
                await sio.connect(
                    self.url,
                    namespaces=[NS],
                    auth={"token": self.token},
                    transports=self.transports,
                    wait_timeout=CONNECT_TIMEOUT_S,
                )
            except Exception:
                self.failed_connects += 1
                await _abort(sio)
                await asyncio.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 1.0)
                continue
            self.sio, self._lost = sio, lost
            self.connects += 1
            try:
                await self._sync_all()
            except Exception:
                # The new connection died during sync: start over.
                self._mark_lost(sio, lost)
            else:
                delay = 0.1
                if not lost.is_set():
                    self.connected.set()
            await lost.wait()
            await _abort(sio)

    def _register(self, sio: socketio.AsyncClient, lost: asyncio.Event) -> None:
        async def on_disconnect(reason: Any = None) -> None:
            self.disconnects += 1
            self._mark_lost(sio, lost)

        async def on_new_message(data: Any) -> None:
            self.live.append(data["message"])
            self.ingest(data["message"])

        sio.on("disconnect", on_disconnect, namespace=NS)
        sio.on("new_message", on_new_message, namespace=NS)
        for name in RECORDED:
            sio.on(name, self._recorder(name), namespace=NS)

    def _recorder(self, name: str) -> Any:
        async def record(data: Any = None) -> None:
            self.events[name].append(data)

        return record

    def _mark_lost(self, sio: socketio.AsyncClient, lost: asyncio.Event) -> None:
        if self.sio is sio:
            self.connected.clear()
            self.sio = None
        lost.set()

    async def drop(self) -> None:
        """Close the current connection from the client side (it reconnects)."""
        sio, lost = self.sio, self._lost
        if sio is not None:
            self._mark_lost(sio, lost)

    async def close(self) -> None:
        self._closed = True
        sio, lost = self.sio, self._lost
        if sio is not None:
            self._mark_lost(sio, lost)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for task in self._gap_tasks.values():
            task.cancel()
        if sio is not None:
            await _abort(sio)
        await self.http.close()

    # -- calls -----------------------------------------------------------------------------

    async def call(self, event: str, data: Any = None, timeout: float = ACK_TIMEOUT_S) -> Any:
        """Emit on the current connection; NotConnected if it is (or gets) lost first."""
        sio, lost = self.sio, self._lost
        if sio is None or lost.is_set():
            raise NotConnected(self.name)
        call = asyncio.ensure_future(sio.call(event, data, namespace=NS, timeout=timeout))
        gone = asyncio.ensure_future(lost.wait())
        try:
            done, _ = await asyncio.wait({call, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if call in done:
            try:
                return call.result()
            except socketio.exceptions.SocketIOError as exc:
                raise NotConnected(f"{self.name}: {exc!r}") from exc
        call.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await call
        raise NotConnected(self.name)

    async def call_ok(self, event: str, data: Any = None) -> dict[str, Any]:
        ack = await self.call(event, data)
        assert ack["ok"] is True, (self.name, event, ack)
        return ack  # type: ignore[no-any-return]

    async def send(
        self,
        room_id: str,
        content: str,
        *,
        thread_id: str | None = None,
        deadline_s: float = SEND_DEADLINE_S,
    ) -> dict[str, Any]:
        """Send until acked, retrying with the same clientMsgId; returns the stored message.
        With `thread_id`, a reply in that root's thread."""
        client_msg_id = str(uuid.uuid4())
        payload = {"roomId": room_id, "content": content, "clientMsgId": client_msg_id}
        if thread_id is not None:
            payload["threadId"] = thread_id
        end = time.monotonic() + deadline_s
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: {content!r} not acked within {deadline_s}s")
            try:
                await asyncio.wait_for(self.connected.wait(), left)
                ack = await self.call("send_message", payload)
            except (NotConnected, TimeoutError):
                await asyncio.sleep(0.02)
                continue
            if ack.get("ok"):
                message: dict[str, Any] = ack["message"]
                assert message["clientMsgId"] == client_msg_id, ack
                self.acked.append(message)
                self.ingest(message)
                return message
            code = ack["error"]["code"]
            self.error_acks.append(code)
            if code == "rate_limited":
                await asyncio.sleep(float(ack["error"].get("retryAfter", 1)))
            elif code in RETRYABLE:
                await asyncio.sleep(random.uniform(0.1, 0.3))
            else:
                raise AssertionError(f"{self.name}: send refused: {ack}")

    # -- delivery --------------------------------------------------------------------------

    def ingest(self, message: dict[str, Any]) -> None:
        """Deliver each seq of a tracked room once, in order; buffer and fill gaps."""
        room_id, seq = message["roomId"], int(message["seq"])
        if room_id not in self.last_seq:
            return
        last = self.last_seq[room_id]
        buffer = self.buffer[room_id]
        if seq <= last or seq in buffer:
            self.duplicates_dropped += 1
            return
        buffer[seq] = message
        while last + 1 in buffer:
            last += 1
            self.delivered[room_id].append(buffer.pop(last))
        self.last_seq[room_id] = last
        if buffer and room_id not in self._gap_tasks:
            self._gap_tasks[room_id] = asyncio.ensure_future(self._fill_gap(room_id))

    async def _fill_gap(self, room_id: str) -> None:
        try:
            await asyncio.sleep(GAP_FILL_DELAY_S)
            while self.buffer[room_id] and not self._closed:
                try:
                    await self._sync_rooms([room_id])
                except (NotConnected, TimeoutError):
                    # The reconnect path syncs every room anyway.
                    return
        finally:
            self._gap_tasks.pop(room_id, None)

    async def _sync_all(self) -> None:
        await self._sync_rooms(list(self.last_seq))

    async def _sync_rooms(self, room_ids: list[str]) -> None:
        """`sync` until no page says hasMore."""
        while room_ids:
            ack = await self.call("sync", self._sync_request(room_ids))
            if not ack.get("ok"):
                raise NotConnected(f"{self.name}: sync failed: {ack}")
            room_ids = self._sync_answer(ack)

    def _sync_request(self, room_ids: list[str]) -> dict[str, Any]:
        """The `sync` payload for these rooms (subclasses add to it)."""
        return {"rooms": {r: self.last_seq[r] for r in room_ids}}

    def _sync_answer(self, ack: dict[str, Any]) -> list[str]:
        """Take in a `sync` ack; returns the rooms that have more to fetch."""
        more = []
        for room_id, page in ack["rooms"].items():
            for message in page["messages"]:
                self.ingest(message)
            if page["hasMore"]:
                more.append(room_id)
        return more

    def _pending(self) -> bool:
        """Something received is still waiting for a gap to be filled."""
        return any(self.buffer.values())

    async def settle(self, timeout: float = 20.0) -> None:
        """Be connected and caught up: a final sync, nothing left in the gap buffers."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                await asyncio.wait_for(self.connected.wait(), max(0.1, deadline - time.monotonic()))
                await self._sync_all()
                if not self._pending():
                    return
            except (NotConnected, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not settle: buffers {dict(self.buffer)}")
            await asyncio.sleep(0.1)


async def eventually(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Poll `check` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def _abort(sio: socketio.AsyncClient) -> None:
    """Drop a client connection now (python-engineio's graceful close of a long-polling
    connection waits for the pending poll)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(sio.eio.disconnect(abort=True), 2)


async def traffic(
    peers: list[Peer], room_id: str, stop: asyncio.Event, interval_s: float = 0.25
) -> int:
    """Each peer sends to the room every ~interval_s until `stop`; every send completes
    (acked). Returns the number of messages sent."""

    async def run(peer: Peer) -> int:
        n = 0
        while not stop.is_set():
            await peer.send(room_id, f"{peer.name} #{n}")
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s * random.uniform(0.5, 1.5))
        return n

    return sum(await asyncio.gather(*(run(p) for p in peers)))


async def room_history(http: aiohttp.ClientSession, url: str, token: str, room_id: str) -> list:
    """Every stored message of a room, in seq order, over REST (keyset pages)."""
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        async with http.get(
            f"{url}/api/rooms/{room_id}/messages",
            params={"after": str(after), "limit": "100"},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        out.extend(body["messages"])
        if not body["hasMore"] or not body["messages"]:
            return out
        after = body["messages"][-1]["seq"]


def assert_complete(peers: Sequence[Peer], room_id: str, stored: list[dict[str, Any]], base: int):
    """Nothing lost, nothing doubled, order kept:

    - storage: seqs base+1..N without holes, every clientMsgId stored once;
    - every acked message is stored, exactly once, as acked; nothing else was stored;
    - every peer (every recipient) has every stored message exactly once, in seq order.
    """
    stored = [m for m in stored if m["seq"] > base]
    seqs = [m["seq"] for m in stored]
    assert seqs == list(range(base + 1, base + 1 + len(stored))), f"holes in storage: {seqs}"
    ids = [m["clientMsgId"] for m in stored]
    doubled = {i for i in ids if ids.count(i) > 1}
    assert not doubled, f"stored twice: {doubled}"
    by_client_id = {m["clientMsgId"]: m for m in stored}
    acked = [m for p in peers for m in p.acked if m["roomId"] == room_id]
    assert len({m["clientMsgId"] for m in acked}) == len(acked), "a send was acked twice"
    for message in acked:
        assert message["clientMsgId"] in by_client_id, f"acked but not stored: {message}"
        assert by_client_id[message["clientMsgId"]]["id"] == message["id"], message
    assert len(acked) == len(stored), f"{len(stored)} stored but {len(acked)} acked"
    expected = [(m["seq"], m["id"]) for m in stored]
    for peer in peers:
        got = [(m["seq"], m["id"]) for m in peer.delivered[room_id]]
        assert got == expected, (
            f"{peer.name} delivered {len(got)} of {len(expected)} messages "
            f"(missing {sorted(set(expected) - set(got))[:10]}...)"
        )
