"""Per-room ordering without a server: duplicates, early arrivals, gaps and sync pages."""

from __future__ import annotations

from chat_server.client.ordering import Ordering


class Clock:
    def __init__(self) -> None:
        self.now = 64.0

    def __call__(self) -> float:
        return self.now


def msg(seq: int, room: str = "r1") -> dict:
    return {"id": f"{room}-{seq}", "roomId": room, "seq": seq}


def seqs(messages: list[dict]) -> list[int]:
    return [m["seq"] for m in messages]


def test_in_order_messages_are_delivered_once():
    ordering = Ordering({"r1": 4})
    assert seqs(ordering.ingest(msg(5))[0]) == [5]
    assert ordering.ingest(msg(5)) == ([], False)
    assert ordering.ingest(msg(3)) == ([], False)
    assert ordering.stats.duplicates == 2
    assert ordering.last_seq == {"r1": 5}


def test_an_unknown_room_starts_at_its_first_message():
    ordering = Ordering()
    assert seqs(ordering.ingest(msg(40, "dm"))[0]) == [40]
    assert ordering.last_seq == {"dm": 40}


def test_an_early_message_waits_for_the_gap_and_reports_it_once():
    clock = Clock()
    ordering = Ordering({"r1": 1}, clock=clock)

    assert ordering.ingest(msg(3)) == ([], True)
    clock.now += 0.25
    assert ordering.ingest(msg(4)) == ([], False)  # the same gap, not a new one
    assert ordering.gap_open("r1") and ordering.gap_age("r1") == 0.25
    delivered, new_gap = ordering.ingest(msg(2))

    assert seqs(delivered) == [2, 3, 4] and not new_gap
    assert not ordering.gap_open("r1") and ordering.gap_age("r1") is None
    assert ordering.stats.gaps_detected == 1


def test_a_sync_page_is_authoritative_for_its_range():
    """Seq 3 does not exist (say, a failed insert): the page says the room ends at 5."""
    ordering = Ordering({"r1": 1})
    ordering.ingest(msg(5))

    delivered = ordering.apply_page("r1", [msg(2), msg(4)], last_seq=5, has_more=False)

    assert seqs(delivered) == [2, 4, 5]
    assert ordering.last_seq == {"r1": 5}
    assert not ordering.gap_open("r1")


def test_a_partial_page_covers_only_what_it_holds():
    ordering = Ordering({"r1": 0})
    ordering.ingest(msg(9))
    delivered = ordering.apply_page("r1", [msg(1), msg(2)], last_seq=9, has_more=True)
    assert seqs(delivered) == [1, 2]
    assert ordering.gap_open("r1")
    assert seqs(ordering.apply_page("r1", [msg(3)], last_seq=9, has_more=False)) == [3, 9]


def test_forgotten_rooms_and_messages_without_seq_are_ignored():
    ordering = Ordering({"r1": 0})
    ordering.forget("r1")
    assert ordering.apply_page("r1", [msg(1)], last_seq=1, has_more=False) == []
    assert ordering.ingest({"roomId": "r1", "seq": True}) == ([], False)
    assert ordering.ingest({"roomId": "r1"}) == ([], False)
    assert ordering.track("r2", 7) and not ordering.track("r2", 9)
    assert ordering.last_seq == {"r2": 7}
