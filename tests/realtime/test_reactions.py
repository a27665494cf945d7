"""Reactions over Socket.IO (docs/contract.md §12): `add_reaction` / `remove_reaction` with
real python-socketio clients.

Owns: the other members get `message_updated` live with the right counts and change
number; a repeat acks the current message without an event or a change number; refusals
(non-member, blocked sender, bad emoji) change nothing and announce nothing; and 20
clients toggling the same reaction at once end with a count equal to the stored rows and
one gap-free change number per change. Must not: re-test the REST paths
(tests/api/test_reactions.py).
"""

from __future__ import annotations

import asyncio

from chat_server.api.keys import POOL
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
from tests.conftest import LOBBY_ID
from tests.edit_helpers import changes as change_feed

THUMBS = "\U0001f44d"
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
BLOCKED_MESSAGE = "This user does not accept your messages"
EVENTS = ("message_updated",)
# The concurrency test: clients, and rounds of add/remove each does (ending added).
TOGGLERS = 20
TOGGLE_ROUNDS = 2


def about(message_id: str):
    return lambda e: e["message"]["id"] == message_id


def ref(message: dict, emoji: str | None = None) -> dict:
    out = {"roomId": message["roomId"], "messageId": message["id"]}
    if emoji is not None:
        out["emoji"] = emoji
    return out


async def test_the_other_member_sees_each_reaction_live(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    msg = await post_message(http, server, alice, LOBBY_ID, "react live")
    before = await room_change_seq(http, server, alice, LOBBY_ID)

    ack = await call_ok(a, "add_reaction", ref(msg, FAMILY))
    assert ack["message"]["reactions"] == [{"emoji": FAMILY, "count": 1, "userIds": [alice.id]}]
    (event,) = await wait_match(b, "message_updated", about(msg["id"]))
    assert event == {"message": ack["message"], "changeSeq": before + 1}
    assert event["message"]["changeSeq"] == before + 1

    ack = await call_ok(b, "add_reaction", ref(msg, FAMILY))
    events = await wait_match(a, "message_updated", about(msg["id"]), count=2)
    assert events[1]["changeSeq"] == before + 2
    assert events[1]["message"]["reactions"] == [
        {"emoji": FAMILY, "count": 2, "userIds": [alice.id, bob.id]}
    ]

    ack = await call_ok(a, "remove_reaction", ref(msg, FAMILY))
    events = await wait_match(b, "message_updated", about(msg["id"]), count=3)
    assert events[2]["changeSeq"] == before + 3
    assert events[2]["message"]["reactions"] == [{"emoji": FAMILY, "count": 1, "userIds": [bob.id]}]


async def test_a_repeat_acks_the_current_message_without_a_change(
    server, http, register, sio_connect
):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    msg = await post_message(http, server, alice, LOBBY_ID, "once")
    first = await call_ok(a, "add_reaction", ref(msg, THUMBS))
    await wait_match(b, "message_updated", about(msg["id"]))
    seq = await room_change_seq(http, server, alice, LOBBY_ID)

    again = await call_ok(a, "add_reaction", ref(msg, THUMBS))
    assert again["message"] == first["message"]
    none = await call_ok(b, "remove_reaction", ref(msg, THUMBS))  # bob never reacted
    assert none["message"] == first["message"]
    await quiet(b, "message_updated", about(msg["id"]))
    assert len(b.recorder.events["message_updated"]) == 1
    assert await room_change_seq(http, server, alice, LOBBY_ID) == seq


async def test_refusals_change_nothing_and_announce_nothing(server, http, register, sio_connect):
    owner = await register(server)
    outsider = await register(server)
    private = await private_room_with(http, server, owner)
    secret = await post_message(http, server, owner, private["id"], "members only")
    public = await create_room(http, server, owner)
    notice = await post_message(http, server, owner, public["id"], "not joined")
    o = await sio_connect(server, owner.access_token, events=EVENTS)
    x = await sio_connect(server, outsider.access_token, events=EVENTS)

    ack = await call(x, "add_reaction", ref(secret, THUMBS))
    assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack
    ack = await call(x, "add_reaction", ref(notice, THUMBS))
    assert ack["ok"] is False and ack["error"] == {
        "code": "forbidden",
        "message": "Join the room first",
    }, ack
    ack = await call(o, "add_reaction", ref(secret, "not an emoji"))
    assert ack["ok"] is False and ack["error"]["code"] == "validation_error", ack
    assert ack["error"]["fields"] == {"emoji": ["Must be exactly one emoji."]}, ack

    await quiet(o, "message_updated")
    for message in (secret, notice):
        assert (await history_message(http, server, owner, message))["reactions"] == []
        assert await room_change_seq(http, server, owner, message["roomId"]) == 0


async def test_a_blocked_user_cannot_react_in_the_blockers_dm(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    dm = await post_dm(http, server, bob, alice, "hi")
    status, _ = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)

    ack = await call(a, "add_reaction", ref(dm, THUMBS))
    assert ack == {"ok": False, "error": {"code": "forbidden", "message": BLOCKED_MESSAGE}}
    await quiet(b, "message_updated")
    assert await room_change_seq(http, server, bob, dm["roomId"]) == 0
    await call_ok(b, "add_reaction", ref(dm, THUMBS))
    (event,) = await wait_match(a, "message_updated", about(dm["id"]))
    assert event["message"]["reactions"][0]["userIds"] == [bob.id]


async def test_twenty_clients_toggling_one_reaction_end_with_the_right_count(
    server, http, register, sio_connect
):
    """Each client adds, removes and adds again, all at once: every effective change gets
    its own change number (no duplicates, no gaps), and the final count is the number of
    stored rows."""
    watcher = await register(server)
    w = await sio_connect(server, watcher.access_token, events=EVENTS)
    msg = await post_message(http, server, watcher, LOBBY_ID, "toggle me")
    users = [await register(server) for _ in range(TOGGLERS)]
    sockets = [await sio_connect(server, u.access_token) for u in users]
    start = await room_change_seq(http, server, watcher, LOBBY_ID)

    async def toggle(sock) -> None:
        for _ in range(TOGGLE_ROUNDS):
            await call_ok(sock, "add_reaction", ref(msg, THUMBS))
            await call_ok(sock, "remove_reaction", ref(msg, THUMBS))
        await call_ok(sock, "add_reaction", ref(msg, THUMBS))

    await asyncio.gather(*(toggle(s) for s in sockets))

    changes = TOGGLERS * (2 * TOGGLE_ROUNDS + 1)
    events = await wait_match(w, "message_updated", about(msg["id"]), count=changes, timeout=30)
    numbers = sorted(e["changeSeq"] for e in events)
    assert numbers == list(range(start + 1, start + changes + 1))
    assert await room_change_seq(http, server, watcher, LOBBY_ID) == start + changes
    async with server.app[POOL].acquire() as conn:
        rows = await conn.fetchval(
            "SELECT count(*) FROM message_reactions WHERE message_id = $1", msg["id"]
        )
    assert rows == TOGGLERS
    current = await history_message(http, server, watcher, msg)
    (reaction,) = current["reactions"]
    assert reaction["count"] == TOGGLERS
    assert sorted(reaction["userIds"]) == sorted(u.id for u in users)
    # The last change announced is the final state.
    last = max(events, key=lambda e: e["changeSeq"])
    assert last["message"]["reactions"] == current["reactions"]
    assert current["changeSeq"] == start + changes
    # A client that missed them all recovers the final state from the change feed, once.
    status, feed = await change_feed(http, server, watcher, LOBBY_ID, start)
    assert status == 200, feed
    assert [m["id"] for m in feed["messages"]] == [msg["id"]]
    assert feed["messages"][0]["reactions"] == current["reactions"]
    assert feed["changeSeq"] == start + changes
