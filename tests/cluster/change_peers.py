"""Peers that also follow changes to stored messages (docs/contract.md §12) and the traffic
of changes the chaos tests run (the checks are in tests/cluster/change_checks.py).

`ChangePeer` is a `Peer` (tests/cluster/peers.py: new messages, delivered once and in seq
order) that also tracks, per room, the last `changeSeq` it applied:

- live `message_updated` {message, changeSeq} events are applied in changeSeq order; one
  that jumps ahead waits in a buffer, and a gap still open after a short delay is filled
  from the change feed over REST (`GET /api/rooms/:id/changes?after=`);
- every `sync` (after each reconnect, and the final `settle`) carries `changes` {roomId:
  lastChangeSeq} and applies the pages of its ack;
- the feed collapses several changes of one message into its latest, so a peer applies a
  feed entry only when its number is above the last one applied, then stands at the page's
  cursor: live events at or below the cursor are covered (or superseded) by the page.

Each applied change is recorded as (changeSeq, message, source), so the checks can tell
that no number was applied twice or skipped (other than superseded by a later change of the
same message), and rebuild the peer's copy of every message.

Problems seen inside event handlers and sync acks are recorded in `violations` (an
assertion there would be swallowed by the client library or by the reconnect loop) and
asserted empty by `change_checks.assert_changes_complete`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import aiohttp
import socketio

from tests.cluster.peers import (
    GAP_FILL_DELAY_S,
    NS,
    RETRYABLE,
    SEND_DEADLINE_S,
    NotConnected,
    Peer,
)

# The feed's page size (the server's maximum).
FEED_PAGE = 100
# A REST gap fill gives up after this many failed requests (the reconnect and the final
# sync fill the gap anyway).
FEED_ATTEMPTS = 5
# Each peer toggles its own reaction with these emoji (one Unicode emoji each).
EMOJI = ("👍", "🎉", "🚀", "👀")
# What the traffic does, with weights: mostly edits, reactions and replies, a few pins,
# and now and then a message sent to be deleted later (over REST).
OPS = (("edit", 4), ("react", 5), ("reply", 3), ("pin", 2), ("delete", 1))
# Kinds of operation that take exactly one change number each once acked.
CHANGE_KINDS = frozenset({"edit", "react", "unreact", "pin", "unpin", "delete", "reply"})


@dataclass
class Applied:
    """One change a peer applied: its number, the message as it stood after it, whence."""

    change_seq: int
    message: dict[str, Any]
    source: str  # "live" (message_updated), "sync" (sync's changes), "feed" (REST)


@dataclass
class ChangeOp:
    """One acked operation of the traffic."""

    kind: str
    message_id: str  # the message it changed (a reply changes its thread's root)
    # The ack's changeSeq when the first attempt was acked: then it is this change's
    # number. A retry may find the change made already (a no-op, answered with the
    # message's current state, possibly of a later change) so its number is unknown.
    change_seq: int | None
    value: Any = None


@dataclass
class Plan:
    """What the traffic works on: set up before the faults."""

    room_id: str
    roots: list[str]  # thread roots (only ever changed by replies)
    targets: dict[str, list[str]]  # peer name -> its own messages to edit, pin, react to
    user_ids: dict[str, str]  # peer name -> user id

    @property
    def all_targets(self) -> list[str]:
        return [t for ts in self.targets.values() for t in ts]


@dataclass
class FeedJump:
    """A feed page a peer took: it moved from `after` to `cursor`, applying the entries
    above `after`. A number in between that it did not apply must belong to a message the
    page holds at a later change (collapsed), or, with hasMore, one a later page holds."""

    after: int
    cursor: int
    latest: dict[str, int]  # message id -> its changeSeq in the page
    has_more: bool


class RestUnavailable(Exception):
    pass


class ChangePeer(Peer):
    """A `Peer` that applies message changes once, in changeSeq order, filling gaps."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        # REST goes through its own session: HAProxy balances REST requests and pins the
        # answer's instance with its cookie, which would move this peer's long-polling
        # session (which must stay on its instance) if it shared the socket's cookie jar.
        self.rest = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        self.last_change: dict[str, int] = {}
        self.change_buffer: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
        self.applied: dict[str, list[Applied]] = defaultdict(list)
        self.jumps: dict[str, list[FeedJump]] = defaultdict(list)
        self.ops: list[ChangeOp] = []
        self.violations: list[str] = []
        self.live_changes = 0
        self.change_duplicates_dropped = 0
        self.superseded_in_buffer = 0
        self.feed_fills = 0
        self.change_retries = 0
        self.in_flight = 0  # operations emitted and not answered yet
        # This peer's own reaction per (message, emoji) and the pins of its own messages:
        # nobody else changes these, so each toggle is a real change.
        self.my_reactions: dict[tuple[str, str], bool] = defaultdict(bool)
        self.my_pins: dict[str, bool] = defaultdict(bool)
        self.my_edits: dict[str, str] = {}
        self._change_gap_tasks: dict[str, asyncio.Task[None]] = {}

    def track_changes(self, room_id: str, last_change_seq: int = 0) -> None:
        """Follow a room's changes from `last_change_seq` on."""
        self.last_change.setdefault(room_id, last_change_seq)

    async def close(self) -> None:
        for task in list(self._change_gap_tasks.values()):
            task.cancel()
        await super().close()
        await self.rest.close()

    # -- receiving changes -----------------------------------------------------------------

    def _register(self, sio: socketio.AsyncClient, lost: asyncio.Event) -> None:
        super()._register(sio, lost)

        async def on_message_updated(data: Any) -> None:
            self.live_changes += 1
            self.receive_change(int(data["changeSeq"]), data["message"])

        sio.on("message_updated", on_message_updated, namespace=NS)

    def receive_change(self, change_seq: int, message: dict[str, Any]) -> None:
        """A live change: applied in changeSeq order; a jump waits for the gap's fill."""
        room_id = message["roomId"]
        if room_id not in self.last_change:
            return
        if message.get("changeSeq") != change_seq:
            self.violations.append(f"event {change_seq} carries {message.get('changeSeq')}")
        buffer = self.change_buffer[room_id]
        if change_seq <= self.last_change[room_id] or change_seq in buffer:
            self.change_duplicates_dropped += 1
            return
        buffer[change_seq] = message
        self._drain(room_id)
        if buffer and room_id not in self._change_gap_tasks:
            self._change_gap_tasks[room_id] = asyncio.ensure_future(self._fill_change_gap(room_id))

    def _drain(self, room_id: str) -> None:
        buffer = self.change_buffer[room_id]
        last = self.last_change[room_id]
        while last + 1 in buffer:
            last += 1
            self._apply(room_id, last, buffer.pop(last), "live")
        self.last_change[room_id] = last

    def _apply(self, room_id: str, change_seq: int, message: dict[str, Any], source: str) -> None:
        applied = self.applied[room_id]
        if applied and applied[-1].change_seq >= change_seq:
            self.violations.append(f"{change_seq} applied after {applied[-1].change_seq}")
        applied.append(Applied(change_seq, message, source))

    def take_feed_page(self, room_id: str, page: dict[str, Any], source: str) -> bool:
        """Apply one page of the change feed (from `sync` or REST); True if it hasMore."""
        numbers = [int(m["changeSeq"]) for m in page["messages"]]
        cursor = int(page["changeSeq"])
        if numbers != sorted(set(numbers)) or (numbers and numbers[-1] > cursor):
            self.violations.append(f"feed page out of order: {numbers}, cursor {cursor}")
        last = self.last_change[room_id]
        latest = {m["id"]: int(m["changeSeq"]) for m in page["messages"]}
        self.jumps[room_id].append(FeedJump(last, cursor, latest, bool(page["hasMore"])))
        for message in page["messages"]:
            if message["changeSeq"] > last:
                last = int(message["changeSeq"])
                self._apply(room_id, last, message, source)
        self.last_change[room_id] = max(last, cursor)
        buffer = self.change_buffer[room_id]
        for n in [n for n in buffer if n <= self.last_change[room_id]]:
            del buffer[n]
            self.superseded_in_buffer += 1
        self._drain(room_id)
        return bool(page["hasMore"])

    async def _fill_change_gap(self, room_id: str) -> None:
        try:
            await asyncio.sleep(GAP_FILL_DELAY_S)
            for _ in range(FEED_ATTEMPTS):
                if not self.change_buffer[room_id] or self._closed:
                    return
                try:
                    page = await self.feed_page(room_id, self.last_change[room_id])
                except (aiohttp.ClientError, TimeoutError, RestUnavailable):
                    await asyncio.sleep(random.uniform(0.1, 0.3))
                    continue
                self.feed_fills += 1
                self.take_feed_page(room_id, page, "feed")
        finally:
            self._change_gap_tasks.pop(room_id, None)

    async def feed_page(self, room_id: str, after: int) -> dict[str, Any]:
        """GET /api/rooms/:id/changes?after= (one page)."""
        async with self.rest.get(
            f"{self.url}/api/rooms/{room_id}/changes",
            params={"after": str(after), "limit": str(FEED_PAGE)},
            headers=self._auth,
        ) as resp:
            if resp.status != 200:
                raise RestUnavailable(f"{resp.status}: {await resp.text()}")
            body: dict[str, Any] = await resp.json()
            return body

    @property
    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def _sync_request(self, room_ids: list[str]) -> dict[str, Any]:
        request = super()._sync_request(room_ids)
        changes = {r: self.last_change[r] for r in room_ids if r in self.last_change}
        if changes:
            request["changes"] = changes
        return request

    def _sync_answer(self, ack: dict[str, Any]) -> list[str]:
        more = super()._sync_answer(ack)
        for room_id, page in ack.get("changes", {}).items():
            more_changes = room_id in self.last_change and self.take_feed_page(
                room_id, page, "sync"
            )
            if more_changes and room_id not in more:
                more.append(room_id)
        return more

    def _pending(self) -> bool:
        return super()._pending() or any(self.change_buffer.values())

    def copies(self, room_id: str) -> dict[str, dict[str, Any]]:
        """This peer's copy of each message of the room: the newest (by changeSeq) of what
        it delivered as a new message and the changes it applied."""
        out: dict[str, dict[str, Any]] = {}
        states = [*self.delivered[room_id], *(a.message for a in self.applied[room_id])]
        for message in states:
            have = out.get(message["id"])
            if have is None or message["changeSeq"] >= have["changeSeq"]:
                out[message["id"]] = message
        return out

    # -- making changes --------------------------------------------------------------------

    async def change(
        self, event: str, payload: dict[str, Any], *, deadline_s: float = SEND_DEADLINE_S
    ) -> tuple[dict[str, Any], bool]:
        """Emit a change until acked (the same request again after a lost connection, an
        ack timeout or a retryable error: it is idempotent). Returns the acked message
        and whether the first attempt was the one acked."""
        end = time.monotonic() + deadline_s
        first = True
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.name}: {event} {payload} not acked in {deadline_s}s")
            try:
                await asyncio.wait_for(self.connected.wait(), left)
                self.in_flight += 1
                try:
                    ack = await self.call(event, payload)
                finally:
                    self.in_flight -= 1
            except (NotConnected, TimeoutError):
                first = False
                self.change_retries += 1
                await asyncio.sleep(0.02)
                continue
            if ack.get("ok"):
                return ack["message"], first
            first = False
            code = ack["error"]["code"]
            self.error_acks.append(code)
            if code == "rate_limited":
                await asyncio.sleep(float(ack["error"].get("retryAfter", 1)))
            elif code in RETRYABLE:
                await asyncio.sleep(random.uniform(0.1, 0.3))
            else:
                raise AssertionError(f"{self.name}: {event} refused: {ack}")

    async def delete_over_rest(
        self, room_id: str, message_id: str, *, deadline_s: float = SEND_DEADLINE_S
    ) -> tuple[dict[str, Any], bool]:
        """DELETE the message over REST until answered 200 (a repeat answers the tombstone)."""
        end = time.monotonic() + deadline_s
        first = True
        while time.monotonic() < end:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self.rest.delete(
                    f"{self.url}/api/rooms/{room_id}/messages/{message_id}", headers=self._auth
                ) as resp:
                    body = await resp.json(content_type=None)
                    if resp.status == 200:
                        return body["message"], first
                    assert resp.status >= 500, (self.name, resp.status, body)
            first = False
            self.change_retries += 1
            await asyncio.sleep(random.uniform(0.1, 0.3))
        raise AssertionError(f"{self.name}: delete of {message_id} not answered")

    def _record(
        self, kind: str, message_id: str, message: dict[str, Any], first: bool, value: Any = None
    ) -> None:
        self.ops.append(ChangeOp(kind, message_id, message["changeSeq"] if first else None, value))

    async def act(self, op: str, plan: Plan, rng: random.Random, n: int) -> None:
        """One operation of the traffic (see OPS); `n` numbers this peer's operations."""
        room = plan.room_id
        mine = plan.targets[self.name]
        if op == "edit":
            target = rng.choice(mine)
            content = f"{self.name} edit {n}"
            message, first = await self.change(
                "edit_message", {"roomId": room, "messageId": target, "content": content}
            )
            self._expect(message["content"] == content, "edit", message)
            self.my_edits[target] = content
            self._record("edit", target, message, first, content)
        elif op == "react":
            target, emoji = rng.choice(plan.all_targets), rng.choice(EMOJI)
            adding = not self.my_reactions[(target, emoji)]
            message, first = await self.change(
                "add_reaction" if adding else "remove_reaction",
                {"roomId": room, "messageId": target, "emoji": emoji},
            )
            reactors = {
                u for r in message["reactions"] if r["emoji"] == emoji for u in r["userIds"]
            }
            self._expect((plan.user_ids[self.name] in reactors) == adding, "react", message)
            self.my_reactions[(target, emoji)] = adding
            self._record("react" if adding else "unreact", target, message, first, emoji)
        elif op == "pin":
            target = rng.choice(mine)
            pinning = not self.my_pins[target]
            message, first = await self.change(
                "pin_message" if pinning else "unpin_message", {"roomId": room, "messageId": target}
            )
            self._expect(message["pinned"] == pinning, "pin", message)
            self.my_pins[target] = pinning
            self._record("pin" if pinning else "unpin", target, message, first)
        elif op == "reply":
            root = rng.choice(plan.roots)
            reply = await self.send(room, f"{self.name} reply {n}", thread_id=root)
            self._expect(reply.get("threadId") == root, "reply", reply)
            # The root's change number is not in the send's ack.
            self.ops.append(ChangeOp("reply", root, None))
        elif op == "delete":
            doomed = [m for m in self.acked if m["content"].endswith(" doomed")]
            deleted = {o.message_id for o in self.ops if o.kind == "delete"}
            todo = [m for m in doomed if m["id"] not in deleted]
            if not todo:
                await self.send(room, f"{self.name} #{n} doomed")
                return
            message, first = await self.delete_over_rest(room, todo[0]["id"])
            self._expect(bool(message.get("deletedAt")), "delete", message)
            self._record("delete", todo[0]["id"], message, first)
        else:
            raise ValueError(op)

    def _expect(self, ok: bool, what: str, message: dict[str, Any]) -> None:
        if not ok:
            self.violations.append(f"{what} acked with {message}")


async def change_traffic(
    peers: list[ChangePeer],
    plan: Plan,
    stop: asyncio.Event,
    *,
    interval_s: float,
    max_ops: int,
    seed: int = 16,
) -> int:
    """Each peer does one operation every ~interval_s until `stop` (or `max_ops`); every
    operation completes (acked). Returns the number of operations."""
    kinds = [kind for kind, _ in OPS]
    weights = [weight for _, weight in OPS]

    async def run(peer: ChangePeer) -> int:
        rng = random.Random(f"{seed}-{peer.name}")
        n = 0
        while not stop.is_set() and n < max_ops:
            await peer.act(rng.choices(kinds, weights)[0], plan, rng, n)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval_s * random.uniform(0.5, 1.5))
        return n

    return sum(await asyncio.gather(*(run(p) for p in peers)))
