"""Per-room change tracking: each message change delivered once, per room in changeSeq order.

Owns: the last changeSeq applied in every tracked room (docs/contract.md §12), changes that
arrived early (their changeSeq skips ahead) and wait in a buffer, whether a room has an
open change gap and since when, and how a page of the change feed (`sync` `changes` or
`GET /api/rooms/:id/changes?after=`) closes gaps. Every change that arrives (live
`message_updated`, the acks of the client's own edits/reactions/pins, recovered pages)
goes through here, so duplicates are dropped in one place. Plain code: time comes from the
injected `clock`; it is unit-tested without a server. Must not: do I/O, sleep, fetch the
missing changes (the caller does, `grace_s` after `ingest` reports a new gap) or hand
updates to the application (it returns them).

The change feed collapses: it returns each changed message once, in its CURRENT state,
at its latest changeSeq. So a complete page is authoritative for its range: a changeSeq
it does not contain was superseded by a later change of the same message (which the page
holds), and it is never waited for; a late live copy of it is older than what was
delivered and is dropped. Every update is delivered at most once per (room, changeSeq),
in increasing changeSeq order per room, and the newest state of each message always last.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Changes are published after commit, by whichever instance made them, so one may briefly
# overtake its predecessor (as for new messages). A gap is fetched only if it is still
# open after this grace period.
CHANGE_GAP_FILL_DELAY_S = 0.3

Message = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MessageUpdate:
    """One change of one message: its whole current state after change `change_seq` of
    room `room_id`. Replace your copy of `message["id"]` with `message`."""

    room_id: str
    change_seq: int
    message: Message

    @property
    def message_id(self) -> str:
        return str(self.message.get("id"))


@dataclass(slots=True)
class RoomChanges:
    """Change state of one room: the last changeSeq applied and changes waiting for a gap."""

    last_change_seq: int
    buffer: dict[int, MessageUpdate] = field(default_factory=dict)
    # clock() time the current gap opened (None: no gap), and whether a fill is running.
    gap_since: float | None = None
    filling: bool = False


@dataclass(slots=True)
class ChangeStats:
    delivered: int = 0
    duplicates: int = 0
    gaps_detected: int = 0


def change_seq_of(value: Any) -> int | None:
    """A usable changeSeq (a positive int, not a bool), else None."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


class ChangeTracker:
    """The per-room changeSeq bookkeeping of one client."""

    def __init__(
        self,
        since: dict[str, int] | None = None,
        *,
        gap_grace_s: float = CHANGE_GAP_FILL_DELAY_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        """`since` maps rooms to the last changeSeq already applied: later changes are
        delivered."""
        self.rooms: dict[str, RoomChanges] = {
            room: RoomChanges(last_change_seq=seq) for room, seq in (since or {}).items()
        }
        self.stats = ChangeStats()
        self.grace_s = gap_grace_s
        self._clock = clock

    @property
    def last_change_seq(self) -> dict[str, int]:
        """The last changeSeq applied per tracked room."""
        return {room: state.last_change_seq for room, state in self.rooms.items()}

    def track(self, room_id: str, change_seq: int) -> bool:
        """Start tracking a room after `change_seq` (a room summary's `changeSeq`: changes
        from now on); False if it is already tracked."""
        if room_id in self.rooms:
            return False
        self.rooms[room_id] = RoomChanges(last_change_seq=max(change_seq, 0))
        return True

    def forget(self, room_id: str) -> None:
        """Stop tracking a room (left, removed): its changes are no longer delivered."""
        self.rooms.pop(room_id, None)

    def ingest(self, message: Message, change_seq: Any = None) -> tuple[list[MessageUpdate], bool]:
        """Take one changed message (`message_updated` {message, changeSeq}, or an ack whose
        message carries its own `changeSeq`); returns the updates now deliverable (in
        order) and whether a gap is open with no fill running (the caller starts one).
        Duplicates, stale copies and messages without a room or changeSeq are dropped."""
        if not isinstance(message, dict):
            return [], False
        room_id = message.get("roomId")
        seq = change_seq_of(change_seq if change_seq is not None else message.get("changeSeq"))
        if not isinstance(room_id, str) or seq is None:
            return [], False
        state = self.rooms.get(room_id)
        if state is None:
            # A room we did not know of (a new DM): its changes start here.
            state = self.rooms[room_id] = RoomChanges(last_change_seq=seq - 1)
        if seq <= state.last_change_seq or seq in state.buffer:
            self.stats.duplicates += 1
            return [], False
        state.buffer[seq] = MessageUpdate(room_id, seq, message)
        out = self._drain(state)
        if state.buffer and state.gap_since is None:
            self.stats.gaps_detected += 1
            state.gap_since = self._clock()
        # A fill is needed while a gap is open and none is running (one that failed, say
        # over a network error, is started again by the next early change).
        return out, bool(state.buffer) and not state.filling

    def gap_age(self, room_id: str) -> float | None:
        """How long the room's current change gap has been open (None: no gap)."""
        state = self.rooms.get(room_id)
        if state is None or state.gap_since is None:
            return None
        return self._clock() - state.gap_since

    def gap_open(self, room_id: str) -> bool:
        """True while the room has changes waiting for a missing predecessor."""
        state = self.rooms.get(room_id)
        return state is not None and bool(state.buffer)

    def apply_page(
        self, room_id: str, messages: Iterable[Message], change_seq: Any, has_more: bool
    ) -> list[MessageUpdate]:
        """Merge a page of the change feed after the room's last changeSeq ({messages,
        changeSeq, hasMore}: current messages in changeSeq order, the room's changeSeq);
        returns the updates now deliverable, in changeSeq order.

        The page covers everything up to its newest changeSeq (up to the room's changeSeq
        when it is the last page): changeSeqs in that range that it does not hold were
        superseded and are not waited for; buffered live changes slot in by changeSeq.
        """
        state = self.rooms.get(room_id)
        if state is None:
            return []
        newest = state.last_change_seq
        for message in messages:
            seq = change_seq_of(message.get("changeSeq")) if isinstance(message, dict) else None
            if seq is None:
                continue
            newest = max(newest, seq)
            if seq > state.last_change_seq:
                state.buffer.setdefault(seq, MessageUpdate(room_id, seq, message))
        covered = newest
        room_seq = change_seq_of(change_seq)
        if not has_more and room_seq is not None:
            covered = max(covered, room_seq)
        out: list[MessageUpdate] = []
        for seq in sorted(s for s in state.buffer if s <= covered):
            out.append(state.buffer.pop(seq))
        state.last_change_seq = max(state.last_change_seq, covered)
        self.stats.delivered += len(out)
        return out + self._drain(state)

    def _drain(self, state: RoomChanges) -> list[MessageUpdate]:
        out: list[MessageUpdate] = []
        while state.last_change_seq + 1 in state.buffer:
            state.last_change_seq += 1
            out.append(state.buffer.pop(state.last_change_seq))
        if not state.buffer:
            state.gap_since = None
        self.stats.delivered += len(out)
        return out
