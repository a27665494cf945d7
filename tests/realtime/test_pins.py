"""Pins over Socket.IO (docs/contract.md §12): `pin_message` / `unpin_message` with real
python-socketio clients.

Owns: the other members see each pin live (`message_updated` with `pinned` and the change
number); a repeat acks without an event; a non-member or blocked sender is refused and
nothing changes. Must not: re-test the REST paths and the list (tests/api/test_pins.py).
"""

from __future__ import annotations

from tests.changes_helpers import history_message, room_change_seq
from tests.chat_helpers import (
    api,
    call,
    call_ok,
    create_room,
    post_dm,
    post_message,
    private_room_with,
    quiet,
    wait_match,
)

EVENTS = ("message_updated",)
BLOCKED_MESSAGE = "This user does not accept your messages"


def ref(message: dict) -> dict:
    return {"roomId": message["roomId"], "messageId": message["id"]}


async def test_pins_are_seen_live_and_repeats_are_quiet(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    room = await create_room(http, server, alice)
    await api(http, server, "POST", f"/api/rooms/{room['id']}/join", bob)
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    msg = await post_message(http, server, bob, room["id"], "pin me")

    ack = await call_ok(a, "pin_message", ref(msg))
    assert ack["message"]["pinned"] is True
    (event,) = await wait_match(b, "message_updated", lambda e: True)
    assert event == {"message": ack["message"], "changeSeq": 1}
    again = await call_ok(b, "pin_message", ref(msg))
    assert again["message"] == ack["message"]

    ack = await call_ok(b, "unpin_message", ref(msg))
    assert ack["message"]["pinned"] is False
    events = await wait_match(a, "message_updated", lambda e: True, count=2)
    assert events[1] == {"message": ack["message"], "changeSeq": 2}
    await call_ok(a, "unpin_message", ref(msg))
    await quiet(b, "message_updated")
    assert len(b.recorder.events["message_updated"]) == 2
    assert await room_change_seq(http, server, alice, room["id"]) == 2


async def test_non_members_and_blocked_senders_cannot_pin(server, http, register, sio_connect):
    owner = await register(server)
    outsider = await register(server)
    private = await private_room_with(http, server, owner)
    secret = await post_message(http, server, owner, private["id"], "members only")
    dm = await post_dm(http, server, owner, outsider, "hi")
    status, _ = await api(http, server, "POST", f"/api/users/{outsider.id}/block", owner)
    assert status == 204
    o = await sio_connect(server, owner.access_token, events=EVENTS)
    x = await sio_connect(server, outsider.access_token, events=EVENTS)

    ack = await call(x, "pin_message", ref(secret))
    assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack
    ack = await call(x, "pin_message", ref(dm))
    assert ack == {"ok": False, "error": {"code": "forbidden", "message": BLOCKED_MESSAGE}}
    await quiet(o, "message_updated")
    assert (await history_message(http, server, owner, secret))["pinned"] is False
    assert (await history_message(http, server, owner, dm))["pinned"] is False
    assert await room_change_seq(http, server, owner, private["id"]) == 0
    assert await room_change_seq(http, server, owner, dm["roomId"]) == 0
