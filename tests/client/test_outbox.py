"""The outbox's retry policy without a server: a fake clock decides what is due."""

from __future__ import annotations

import asyncio

import pytest

from chat_server.client import ChatClientError
from chat_server.client.outbox import (
    RATE_LIMITED_DEFAULT_S,
    SEND_RETRY_DELAY_INITIAL_S,
    SEND_RETRY_DELAY_MAX_S,
    Outbox,
    PendingMessage,
)

ACK_TIMEOUT_S = 10.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_outbox(clock: Clock, **options) -> Outbox:
    # rand=0: no jitter, so the delays are exact.
    return Outbox(ack_timeout_s=ACK_TIMEOUT_S, clock=clock, rand=lambda: 0.0, **options)


def item(client_msg_id: str, *, room: str = "r1", dm_to: str | None = None) -> PendingMessage:
    return PendingMessage(
        client_msg_id=client_msg_id,
        room_id=None if dm_to else room,
        recipient_id=dm_to,
        content=f"text {client_msg_id}",
        message_type="text",
        future=asyncio.get_running_loop().create_future(),
    )


def ok(client_msg_id: str) -> dict:
    return {"ok": True, "message": {"id": "m-" + client_msg_id, "clientMsgId": client_msg_id}}


def refused(code: str, **extra) -> dict:
    return {"ok": False, "error": {"code": code, "message": code, **extra}}


async def test_a_repeated_client_msg_id_is_the_same_pending_send():
    box = make_outbox(Clock())
    first = box.add(item("a"))
    again = box.add(item("a"))
    assert again is first
    assert box.ids == ["a"]


async def test_sends_go_out_oldest_first_and_an_ack_resolves_the_future():
    box = make_outbox(Clock())
    a, b = box.add(item("a")), box.add(item("b"))

    assert box.next_to_send() == (a, None)
    attempt = box.sending(a)
    assert box.next_to_send() == (b, None)
    message = box.on_ack(a, attempt, ok("a"))

    assert message == ok("a")["message"]
    assert a.future.result() == message
    assert box.ids == ["b"]


async def test_dm_payload_names_the_recipient():
    dm = item("d", dm_to="user-2")
    assert dm.event == "send_dm"
    assert dm.payload() == {
        "recipientId": "user-2",
        "content": "text d",
        "messageType": "text",
        "clientMsgId": "d",
    }
    assert item("r").event == "send_message"


async def test_an_ack_that_does_not_come_is_re_sent_after_the_timeout():
    clock = Clock()
    box = make_outbox(clock)
    a = box.add(item("a"))
    first = box.sending(a)

    assert box.next_to_send() == (None, ACK_TIMEOUT_S)
    clock.now += ACK_TIMEOUT_S
    assert box.next_to_send() == (a, None)
    second = box.sending(a)
    assert box.resends == 1 and box.timeouts == 1

    # The late answer to the first attempt still counts (same clientMsgId, same message).
    assert box.on_ack(a, first, ok("a")) is not None
    assert box.on_ack(a, second, ok("a")) is None
    assert box.ids == []


async def test_retryable_errors_back_off_exponentially_up_to_the_cap():
    clock = Clock()
    box = make_outbox(clock)
    a = box.add(item("a"))
    waits = []
    for _ in range(8):
        attempt = box.sending(a)
        assert box.on_ack(a, attempt, refused("unavailable")) is None
        _, wait = box.next_to_send()
        waits.append(wait)
        clock.now += wait

    assert waits[:3] == [
        SEND_RETRY_DELAY_INITIAL_S,
        SEND_RETRY_DELAY_INITIAL_S * 2,
        SEND_RETRY_DELAY_INITIAL_S * 4,
    ]
    assert waits[-1] == SEND_RETRY_DELAY_MAX_S
    assert not a.future.done()


async def test_rate_limited_waits_the_servers_retry_after():
    clock = Clock()
    box = make_outbox(clock)
    a = box.add(item("a"))
    box.on_ack(a, box.sending(a), refused("rate_limited", retryAfter=7))
    assert box.next_to_send() == (None, 7)
    clock.now += 7
    box.on_ack(a, box.sending(a), refused("rate_limited"))
    assert box.next_to_send() == (None, RATE_LIMITED_DEFAULT_S)


async def test_a_refusal_retrying_cannot_fix_fails_the_send():
    box = make_outbox(Clock())
    a = box.add(item("a"))
    box.on_ack(a, box.sending(a), refused("validation_error", fields={"content": ["Too long."]}))

    with pytest.raises(ChatClientError) as info:
        a.future.result()
    assert info.value.code == "validation_error"
    assert info.value.fields == {"content": ["Too long."]}
    assert box.ids == []


async def test_a_stale_refusal_does_not_reschedule_a_newer_attempt():
    clock = Clock()
    box = make_outbox(clock)
    a = box.add(item("a"))
    first = box.sending(a)
    box.connection_lost()
    box.sending(a)
    box.on_ack(a, first, refused("unavailable"))
    assert a.in_flight and a.failures == 0


async def test_in_flight_is_bounded():
    box = make_outbox(Clock(), max_in_flight=2)
    items = [box.add(item(str(n))) for n in range(3)]
    box.sending(items[0])
    box.sending(items[1])
    assert box.next_to_send() == (None, ACK_TIMEOUT_S)


async def test_connection_loss_makes_everything_due_and_fail_all_resolves_futures():
    box = make_outbox(Clock())
    a, b = box.add(item("a")), box.add(item("b"))
    box.sending(a)
    box.connection_lost()
    assert box.next_to_send() == (a, None)

    box.fail_all(ChatClientError("client_closed"))
    assert box.ids == []
    for pending in (a, b):
        with pytest.raises(ChatClientError):
            pending.future.result()
