"""Per-room change tracking without a server: order, duplicates, gaps, recovered pages and
the change feed's collapsing (one entry per message, at its latest changeSeq)."""

from __future__ import annotations

import random
from typing import Any

from chat_server.client.changes import ChangeTracker, MessageUpdate


class Clock:
    def __init__(self) -> None:
        self.now = 64.0

    def __call__(self) -> float:
        return self.now


def changed(message_id: str, change_seq: int, room: str = "r1", **state: Any) -> dict:
    """A changed message as the server sends it: its whole state, with its changeSeq."""
    return {"id": message_id, "roomId": room, "changeSeq": change_seq, **state}


def seqs(updates: list[MessageUpdate]) -> list[int]:
    return [u.change_seq for u in updates]


def test_in_order_changes_are_delivered_once():
    tracker = ChangeTracker({"r1": 4})

    delivered, fill = tracker.ingest(changed("a", 5, content="v2"), 5)

    assert not fill
    assert delivered == [MessageUpdate("r1", 5, changed("a", 5, content="v2"))]
    assert delivered[0].message_id == "a"
    assert tracker.ingest(changed("a", 5), 5) == ([], False)  # the same event twice
    assert tracker.ingest(changed("b", 3), 3) == ([], False)  # older than what we have
    assert tracker.stats.duplicates == 2 and tracker.stats.delivered == 1
    assert tracker.last_change_seq == {"r1": 5}


def test_an_ack_counts_by_the_message_s_own_change_seq():
    """edit()'s answer carries the message's changeSeq; the live event of the same change
    that follows is then a duplicate (and the other way round)."""
    tracker = ChangeTracker({"r1": 0})
    assert seqs(tracker.ingest(changed("a", 1))[0]) == [1]
    assert tracker.ingest(changed("a", 1), 1) == ([], False)
    assert tracker.stats.duplicates == 1


def test_an_unknown_room_starts_at_its_first_change():
    tracker = ChangeTracker()
    assert seqs(tracker.ingest(changed("m", 40, room="dm"), 40)[0]) == [40]
    assert tracker.last_change_seq == {"dm": 40}


def test_a_jump_is_a_gap_and_asks_for_a_fill_until_one_runs():
    clock = Clock()
    tracker = ChangeTracker({"r1": 1}, clock=clock)

    assert tracker.ingest(changed("c", 3), 3) == ([], True)  # 2 is missing: fetch
    assert tracker.gap_open("r1") and tracker.stats.gaps_detected == 1
    tracker.rooms["r1"].filling = True  # the caller's fill is running
    clock.now += 0.25
    assert tracker.ingest(changed("d", 4), 4) == ([], False)  # the same gap, being filled
    assert tracker.gap_age("r1") == 0.25
    tracker.rooms["r1"].filling = False  # that fill failed (network): the next one retries
    assert tracker.ingest(changed("e", 6), 6) == ([], True)
    assert tracker.stats.gaps_detected == 1

    delivered, fill = tracker.ingest(changed("b", 2), 2)

    assert seqs(delivered) == [2, 3, 4] and fill  # 5 still missing
    delivered, fill = tracker.ingest(changed("x", 5), 5)
    assert seqs(delivered) == [5, 6] and not fill
    assert not tracker.gap_open("r1") and tracker.gap_age("r1") is None


def test_a_recovered_page_is_delivered_in_change_seq_order():
    tracker = ChangeTracker({"r1": 10})
    page = [changed("b", 13), changed("a", 11), changed("c", 12)]  # in any order

    delivered = tracker.apply_page("r1", page, change_seq=13, has_more=False)

    assert seqs(delivered) == [11, 12, 13]
    assert [u.message_id for u in delivered] == ["a", "c", "b"]
    assert tracker.last_change_seq == {"r1": 13}


def test_collapsed_changes_are_not_waited_for_and_late_copies_are_dropped():
    """Message a changed at 3, 5 and 8, b at 4, 6 and 7: the feed after 2 holds a@8 and b@7
    only (their current state). Changes 3-6 are superseded, not missing; a late live copy
    of one of them is older than what was delivered and must not overwrite it."""
    tracker = ChangeTracker({"r1": 2})
    page = [changed("b", 7, content="b3"), changed("a", 8, content="a3")]

    delivered = tracker.apply_page("r1", page, change_seq=8, has_more=False)

    assert seqs(delivered) == [7, 8]
    assert not tracker.gap_open("r1")
    for seq, mid in ((3, "a"), (4, "b"), (5, "a"), (6, "b"), (8, "a")):
        assert tracker.ingest(changed(mid, seq, content="old"), seq) == ([], False)
    assert tracker.ingest(changed("b", 9, content="b4"), 9)[0][0].message["content"] == "b4"


def test_buffered_live_changes_merge_with_the_page_newest_state_last():
    tracker = ChangeTracker({"r1": 2})
    tracker.ingest(changed("b", 5, content="b1"), 5)  # early: 3 and 4 missing
    tracker.ingest(changed("c", 9, content="c1"), 9)  # beyond what the page will hold

    # The fill: a@3; b changed again at 6 (so 5 is superseded); 4 is also b's (collapsed).
    page = [changed("a", 3, content="a1"), changed("b", 6, content="b2")]
    delivered = tracker.apply_page("r1", page, change_seq=6, has_more=False)

    assert seqs(delivered) == [3, 5, 6]
    assert [u.message["content"] for u in delivered] == ["a1", "b1", "b2"]
    assert tracker.gap_open("r1")  # 7 and 8 are still missing before c@9
    assert tracker.last_change_seq == {"r1": 6}


def test_the_same_change_from_page_and_live_is_delivered_once():
    tracker = ChangeTracker({"r1": 0})
    tracker.ingest(changed("b", 2), 2)
    delivered = tracker.apply_page("r1", [changed("a", 1), changed("b", 2)], 2, False)
    assert seqs(delivered) == [1, 2]
    assert tracker.ingest(changed("b", 2), 2) == ([], False)
    assert tracker.apply_page("r1", [changed("b", 2)], 2, False) == []


def test_a_partial_page_covers_only_what_it_holds():
    tracker = ChangeTracker({"r1": 0})
    tracker.ingest(changed("z", 9), 9)

    delivered = tracker.apply_page("r1", [changed("a", 1), changed("b", 3)], 9, has_more=True)

    assert seqs(delivered) == [1, 3]
    assert tracker.last_change_seq == {"r1": 3} and tracker.gap_open("r1")
    delivered = tracker.apply_page("r1", [changed("c", 5)], change_seq=9, has_more=False)
    assert seqs(delivered) == [5, 9]
    assert not tracker.gap_open("r1")


def test_an_empty_last_page_moves_to_the_room_s_change_seq():
    """The feed is authoritative: if it holds nothing after 4 while the room is at 7 (the
    changed messages no longer exist, say), nothing is waited for."""
    tracker = ChangeTracker({"r1": 4})
    assert tracker.apply_page("r1", [], change_seq=7, has_more=False) == []
    assert tracker.last_change_seq == {"r1": 7}
    assert tracker.apply_page("r1", [], change_seq=3, has_more=False) == []
    assert tracker.last_change_seq == {"r1": 7}  # never backwards


def test_forgotten_rooms_and_changes_without_a_number_are_ignored():
    tracker = ChangeTracker({"r1": 0})
    tracker.forget("r1")
    assert tracker.apply_page("r1", [changed("a", 1)], 1, False) == []
    assert tracker.ingest({"id": "a", "roomId": "r1", "changeSeq": True}) == ([], False)
    assert tracker.ingest({"id": "a", "roomId": "r1", "changeSeq": 0}) == ([], False)
    assert tracker.ingest({"id": "a", "roomId": "r1"}) == ([], False)
    assert tracker.ingest({"id": "a", "changeSeq": 3}) == ([], False)
    assert tracker.ingest("nonsense") == ([], False)  # type: ignore[arg-type]
    assert tracker.track("r2", 7) and not tracker.track("r2", 9)
    assert tracker.last_change_seq == {"r2": 7}


class FeedModel:
    """The server's side as §12 describes it: a per-room counter, each message's current
    state at its latest changeSeq, and a feed that returns each changed message once."""

    def __init__(self) -> None:
        self.last: dict[str, int] = {}
        self.messages: dict[str, dict] = {}

    def change(self, room: str, message_id: str) -> dict:
        seq = self.last[room] = self.last.get(room, 0) + 1
        old = self.messages.get(message_id, {"version": 0})
        message = changed(message_id, seq, room=room, version=old["version"] + 1)
        self.messages[message_id] = message
        return message

    def feed(self, room: str, after: int, limit: int) -> tuple[list[dict], int, bool]:
        rows = sorted(
            (m for m in self.messages.values() if m["roomId"] == room and m["changeSeq"] > after),
            key=lambda m: m["changeSeq"],
        )
        return rows[:limit], self.last.get(room, 0), len(rows) > limit


def test_any_mix_of_live_lost_and_recovered_changes_ends_in_the_server_state():
    """Random rounds (seeded): changes to a few messages in three rooms; the client sees a
    shuffled subset live (late, early, twice), then recovers from the feed in small pages.
    Every update is delivered at most once per changeSeq, in increasing order per room, and
    the client's copies end equal to the server's."""
    rng = random.Random(16)
    for _ in range(200):
        server = FeedModel()
        rooms = ["r1", "r2", "r3"]
        tracker = ChangeTracker({room: 0 for room in rooms})
        live: list[dict] = []
        for _ in range(rng.randint(1, 40)):
            room = rng.choice(rooms)
            live.append(server.change(room, f"{room}-m{rng.randint(1, 4)}"))
        seen = [m for m in live if rng.random() < 0.6]
        seen += rng.sample(seen, len(seen) // 4)  # duplicates
        rng.shuffle(seen)  # overtaking
        delivered: list[MessageUpdate] = []
        for message in seen:
            delivered += tracker.ingest(message, message["changeSeq"])[0]
        for room in rooms:  # the recovery after a reconnect (sync `changes`)
            has_more = True
            while has_more:
                after = tracker.last_change_seq[room]
                page, room_seq, has_more = server.feed(room, after, rng.randint(1, 5))
                delivered += tracker.apply_page(room, page, room_seq, has_more)

        copies: dict[str, dict] = {}
        for room in rooms:
            in_room = [u.change_seq for u in delivered if u.room_id == room]
            assert in_room == sorted(set(in_room)), in_room  # once each, in order
        for update in delivered:
            copies[update.message_id] = update.message
        assert copies == server.messages
        assert tracker.last_change_seq == {room: server.last.get(room, 0) for room in rooms}
        assert not any(tracker.gap_open(room) for room in rooms)
