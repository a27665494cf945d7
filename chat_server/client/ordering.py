"""Per-room ordering: each message delivered once, per room in seq order, gaps noticed.

Owns: the last seq delivered in every tracked room, messages that arrived early (their seq
skips ahead) and wait in a buffer, whether a room has an open gap and since when, and how a
`sync`/history page (authoritative for the range it covers) closes gaps. Everything that
arrives (live events, send acks, sync pages) goes through here, so duplicates are dropped
in one place. Plain code: time comes from the injected `clock`; it is unit-tested without
a server. Must not: do I/O, sleep, fetch the missing messages (the caller does, `grace_s`
after `ingest` reports a new gap) or hand messages to the application (it returns them).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Concurrent sends are emitted by the server in commit order but not strictly, so a
# message may briefly overtake its predecessor. A gap is fetched only if it is still
# open after this grace period.
GAP_FILL_DELAY_S = 0.3

Message = dict[str, Any]


@dataclass(slots=True)
class RoomState:
    """Delivery state of one room: the last seq delivered and messages waiting for a gap."""

    last_seq: int
    buffer: dict[int, Message] = field(default_factory=dict)
    # clock() time the current gap opened (None: no gap; for logs and tests), and whether
    # a fill is running.
    gap_since: float | None = None
    filling: bool = False


@dataclass(slots=True)
class OrderingStats:
    delivered: int = 0
    duplicates: int = 0
    gaps_detected: int = 0


class Ordering:
    """The per-room seq bookkeeping of one client."""

    def __init__(
        self,
        since: dict[str, int] | None = None,
        *,
        gap_grace_s: float = GAP_FILL_DELAY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        """`since` maps rooms to the last seq already seen: later messages are delivered."""
        self.rooms: dict[str, RoomState] = {
            room: RoomState(last_seq=seq) for room, seq in (since or {}).items()
        }
        self.stats = OrderingStats()
        self.grace_s = gap_grace_s
        self._clock = clock

    @property
    def last_seq(self) -> dict[str, int]:
        """The last seq delivered per tracked room."""
        return {room: state.last_seq for room, state in self.rooms.items()}

    def track(self, room_id: str, last_seq: int) -> bool:
        """Start tracking a room after `last_seq`; False if it is already tracked."""
        if room_id in self.rooms:
            return False
        self.rooms[room_id] = RoomState(last_seq=max(last_seq, 0))
        return True

    def forget(self, room_id: str) -> None:
        """Stop tracking a room (left, removed): its messages are no longer delivered."""
        self.rooms.pop(room_id, None)

    def ingest(self, message: Message) -> tuple[list[Message], bool]:
        """Take one message; returns the messages now deliverable (in order) and whether a
        new gap opened (the caller schedules a fill). Duplicates and messages without a
        seq are dropped."""
        room_id, seq = message.get("roomId"), message.get("seq")
        if not isinstance(room_id, str) or not isinstance(seq, int) or isinstance(seq, bool):
            return [], False
        state = self.rooms.get(room_id)
        if state is None:
            # A room we did not know of (a new DM, joined elsewhere): it starts here.
            state = self.rooms[room_id] = RoomState(last_seq=seq - 1)
        if seq <= state.last_seq or seq in state.buffer:
            self.stats.duplicates += 1
            return [], False
        state.buffer[seq] = message
        out = self._drain(state)
        new_gap = bool(state.buffer) and state.gap_since is None
        if new_gap:
            self.stats.gaps_detected += 1
            state.gap_since = self._clock()
        return out, new_gap

    def gap_age(self, room_id: str) -> float | None:
        """How long the room's current gap has been open (None: no gap)."""
        state = self.rooms.get(room_id)
        if state is None or state.gap_since is None:
            return None
        return self._clock() - state.gap_since

    def gap_open(self, room_id: str) -> bool:
        """True while the room has messages waiting for a missing predecessor."""
        state = self.rooms.get(room_id)
        return state is not None and bool(state.buffer)

    def apply_page(
        self, room_id: str, messages: Iterable[Message], last_seq: Any, has_more: bool
    ) -> list[Message]:
        """Merge a server page that covers everything after the room's last seq up to its
        end; returns the messages now deliverable, in order.

        Such a page is authoritative for its range: a seq it does not contain does not
        exist (so it is not waited for), and buffered early arrivals slot in by seq.
        """
        state = self.rooms.get(room_id)
        if state is None:
            return []
        page = [m for m in messages if isinstance(m, dict) and isinstance(m.get("seq"), int)]
        for message in page:
            if message["seq"] > state.last_seq:
                state.buffer.setdefault(message["seq"], message)
        newest = max((m["seq"] for m in page), default=state.last_seq)
        covered = newest if has_more or not isinstance(last_seq, int) else last_seq
        out: list[Message] = []
        for seq in sorted(s for s in state.buffer if s <= covered):
            out.append(state.buffer.pop(seq))
            state.last_seq = seq
        state.last_seq = max(state.last_seq, covered)
        self.stats.delivered += len(out)
        return out + self._drain(state)

    def _drain(self, state: RoomState) -> list[Message]:
        out: list[Message] = []
        while state.last_seq + 1 in state.buffer:
            state.last_seq += 1
            out.append(state.buffer.pop(state.last_seq))
        if not state.buffer:
            state.gap_since = None
        self.stats.delivered += len(out)
        return out
