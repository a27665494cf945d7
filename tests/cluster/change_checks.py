"""The checks of the chaos tests for messages that change (docs/contract.md §12): the
room's change numbers are gap-free and each acked change took one; every acked change is
in the server's final state; every peer applied each change once, in order, skipping a
number only where the feed collapsed it into a later change of the same message; and every
peer's copy of every message is the server's current one.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.cluster.change_peers import CHANGE_KINDS, EMOJI, FEED_PAGE, ChangePeer, Plan


async def change_feed(
    http: aiohttp.ClientSession, url: str, token: str, room_id: str, after: int
) -> tuple[list[dict[str, Any]], int]:
    """The whole change feed of a room after `after`, read fresh over REST: (messages,
    cursor)."""
    out: list[dict[str, Any]] = []
    while True:
        async with http.get(
            f"{url}/api/rooms/{room_id}/changes",
            params={"after": str(after), "limit": str(FEED_PAGE)},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp:
            body = await resp.json()
            assert resp.status == 200, body
        out.extend(body["messages"])
        after = body["changeSeq"]
        if not body["hasMore"]:
            return out, after


@dataclass
class ServerState:
    """The room as the server has it after the traffic, read fresh over REST."""

    history: list[dict[str, Any]]  # every message, current state, seq order
    feed: list[dict[str, Any]]  # the change feed after the base
    feed_cursor: int
    change_seq: int  # the room summary's changeSeq (rooms.last_change_seq)
    base: int  # the room's changeSeq before the traffic
    by_id: dict[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {m["id"]: m for m in self.history}


def assert_changes_complete(peers: list[ChangePeer], plan: Plan, server: ServerState) -> None:
    """Every acked change took one number of a gap-free sequence and reached every peer
    exactly once (applied, or superseded by a later change of the same message that the
    peer applied), and every peer's copy of every message is the server's current one."""
    room, base, top = plan.room_id, server.base, server.change_seq
    for peer in peers:
        assert not peer.violations, (peer.name, peer.violations[:5])

    # The server: the counter stands at the newest change; the feed holds each changed
    # message once, as history has it; one number per acked change, nothing else.
    numbers = [m["changeSeq"] for m in server.feed]
    assert numbers == sorted(set(numbers)), f"feed not in change order: {numbers}"
    assert server.feed_cursor == top, (server.feed_cursor, top)
    assert not numbers or numbers[-1] == top, (numbers[-1:], top)
    assert all(base < n <= top for n in numbers), (base, top, numbers)
    for message in server.feed:
        assert message == server.by_id[message["id"]], ("feed != history", message)
    changed = {m["id"] for m in server.history if m["changeSeq"] > base}
    assert changed == {m["id"] for m in server.feed}, "feed and history disagree"
    ops = [o for p in peers for o in p.ops if o.kind in CHANGE_KINDS]
    assert top - base == len(ops), f"{top - base} change numbers for {len(ops)} acked changes"
    exact = [o.change_seq for o in ops if o.change_seq is not None]
    assert len(set(exact)) == len(exact), "two acked changes got the same number"
    assert all(base < n <= top for n in exact), (base, top, exact)

    # Every acked change is in the final state.
    _assert_effects(peers, plan, server)

    # Which message each number changed, where known: exact acks, what peers applied (each
    # number one state, whoever applied it) and the feed.
    owner: dict[int, str] = {}
    state: dict[int, dict[str, Any]] = {}
    for o in ops:
        if o.change_seq is not None:
            owner[o.change_seq] = o.message_id
    for peer in peers:
        for a in peer.applied[room]:
            assert owner.setdefault(a.change_seq, a.message["id"]) == a.message["id"], a
            seen = state.setdefault(a.change_seq, a.message)
            assert seen == a.message, (f"change {a.change_seq} seen as two states", seen, a)
    for message in server.feed:
        assert owner.setdefault(message["changeSeq"], message["id"]) == message["id"]
    unattributed = sorted(set(range(base + 1, top + 1)) - set(owner))
    # Only a reply's root change or a retried operation's number can be unattributed: no
    # peer applied it (every peer had it superseded) and no first-attempt ack named it.
    may_hide = sum(1 for o in ops if o.change_seq is None)
    assert len(unattributed) <= may_hide, (unattributed, may_hide)

    for peer in peers:
        applied = peer.applied[room]
        got = [a.change_seq for a in applied]
        assert got == sorted(set(got)), f"{peer.name} applied out of order or twice: {got}"
        assert all(base < n <= top for n in got), (peer.name, got)
        assert peer.last_change[room] == top, (peer.name, peer.last_change[room], top)
        latest: dict[str, int] = {}
        for a in applied:
            latest[a.message["id"]] = a.change_seq
        applied_set = set(got)
        for n in range(base + 1, top + 1):
            if n in applied_set or n not in owner:
                continue
            superseded = latest.get(owner[n], 0) > n
            assert superseded, f"{peer.name} missed change {n} of message {owner[n]}"
        # Live events are applied without skipping: every number skipped was skipped by a
        # feed page, which must have held its message at a later change.
        for jump in peer.jumps[room]:
            for n in range(jump.after + 1, jump.cursor + 1):
                if n in applied_set or n not in owner:
                    continue
                collapsed = jump.latest.get(owner[n], 0) > n
                assert collapsed or jump.has_more, (
                    f"{peer.name} skipped change {n} of message {owner[n]} on a feed page "
                    f"after {jump.after} that does not hold that message later: {jump}"
                )
        copies = peer.copies(room)
        for message in server.history:
            assert copies.get(message["id"]) == message, (
                f"{peer.name}'s copy differs",
                copies.get(message["id"]),
                message,
            )


def _assert_effects(peers: list[ChangePeer], plan: Plan, server: ServerState) -> None:
    """The server's current state is what the acked operations made of it."""
    by_id = server.by_id
    replies = Counter(o.message_id for p in peers for o in p.ops if o.kind == "reply")
    for root in plan.roots:
        thread = by_id[root].get("thread") or {}
        assert thread.get("replyCount", 0) == replies[root], (by_id[root], replies[root])
        assert not by_id[root].get("deletedAt") and not by_id[root]["reactions"]
    reactors: dict[tuple[str, str], set[str]] = defaultdict(set)
    for peer in peers:
        for target in plan.targets[peer.name]:
            message = by_id[target]
            if target in peer.my_edits:
                assert message["content"] == peer.my_edits[target], message
                assert message.get("editedAt"), message
            assert message["pinned"] == peer.my_pins[target], message
        for (target, emoji), on in peer.my_reactions.items():
            if on:
                reactors[(target, emoji)].add(plan.user_ids[peer.name])
        for o in peer.ops:
            if o.kind == "delete":
                assert by_id[o.message_id].get("deletedAt"), by_id[o.message_id]
    for target in plan.all_targets:
        have = {(target, r["emoji"]): set(r["userIds"]) for r in by_id[target]["reactions"]}
        for emoji in EMOJI:
            assert have.get((target, emoji), set()) == reactors[(target, emoji)], (
                target,
                emoji,
                by_id[target]["reactions"],
            )
