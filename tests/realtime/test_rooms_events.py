"""Rooms over Socket.IO: join/leave events, membership following every socket of a user,
rooms being independent, private rooms staying closed (issue 3)."""

from __future__ import annotations

import uuid

from tests.chat_helpers import (
    QUIET_S,
    api,
    call,
    call_error,
    call_ok,
    create_room,
    invite,
    join,
    post_dm,
    post_message,
    private_room_with,
    quiet,
    wait_match,
)
from tests.conftest import LOBBY_ID, REDIS_URL

ROOM_EVENTS = ("user_joined", "user_left", "new_message")


async def test_join_and_leave_events_reach_the_room(server, http, register, sio_connect):
    owner = await register(server)
    bob = await register(server)
    stranger = await register(server)
    room = await create_room(http, server, owner)
    rid = room["id"]
    o = await sio_connect(server, owner.access_token, events=ROOM_EVENTS)
    b = await sio_connect(server, bob.access_token, events=ROOM_EVENTS)
    s = await sio_connect(server, stranger.access_token, events=ROOM_EVENTS)

    ack = await call_ok(b, "join_room", {"roomId": rid})
    assert ack["room"]["id"] == rid and ack["room"]["isMember"] is True
    joined = await wait_match(o, "user_joined", lambda e: e["roomId"] == rid)
    assert joined[0] == {"roomId": rid, "user": {"id": bob.id, "username": bob.username}}

    # Joining again changes nothing and announces nothing.
    await call_ok(b, "join_room", {"roomId": rid})

    ack = await call_ok(b, "leave_room", {"roomId": rid})
    assert ack["roomId"] == rid
    left = await wait_match(o, "user_left", lambda e: e["roomId"] == rid)
    assert left[0] == {"roomId": rid, "userId": bob.id}

    await quiet(o, "user_joined", lambda e: e["roomId"] == rid)
    assert len([e for e in o.recorder.events["user_joined"] if e["roomId"] == rid]) == 1
    # Someone outside the room hears nothing about it.
    assert s.recorder.events["user_joined"] == []
    assert s.recorder.events["user_left"] == []

    # Leaving a room one is not in is an error, and announces nothing.
    await call_error(b, "leave_room", {"roomId": rid}, "not_found")


async def test_rest_join_and_leave_are_announced_too(server, http, register, sio_connect):
    owner = await register(server)
    bob = await register(server)
    room = await create_room(http, server, owner)
    rid = room["id"]
    o = await sio_connect(server, owner.access_token, events=ROOM_EVENTS)
    await join(http, server, bob, rid)
    await wait_match(o, "user_joined", lambda e: e["roomId"] == rid and e["user"]["id"] == bob.id)
    status, _ = await api(http, server, "DELETE", f"/api/rooms/{rid}/leave", bob)
    assert status == 204
    await wait_match(o, "user_left", lambda e: e == {"roomId": rid, "userId": bob.id})


async def test_membership_follows_all_of_a_users_sockets(server, http, register, sio_connect):
    owner = await register(server)
    bob = await register(server)
    room = await create_room(http, server, owner)
    rid = room["id"]
    b1 = await sio_connect(server, bob.access_token, events=ROOM_EVENTS)
    b2 = await sio_connect(server, bob.access_token, events=ROOM_EVENTS)

    def in_room(e):
        return e["message"]["roomId"] == rid

    # Joined over REST: both live sockets follow without reconnecting.
    await join(http, server, bob, rid)
    first = await post_message(http, server, owner, rid, "welcome")
    for sock in (b1, b2):
        got = await wait_match(sock, "new_message", in_room)
        assert got[0]["message"]["id"] == first["id"]
    # Bob can post from either socket: the socket knows it is in the room.
    await call_ok(b2, "send_message", {"roomId": rid, "content": "thanks"})

    # Left over REST: neither socket hears the room any more.
    status, _ = await api(http, server, "DELETE", f"/api/rooms/{rid}/leave", bob)
    assert status == 204
    await post_message(http, server, owner, rid, "after you left")
    await quiet(b1, "new_message", in_room)
    for sock in (b1, b2):
        assert [
            e["message"]["content"] for e in sock.recorder.events["new_message"] if in_room(e)
        ] == [
            "welcome",
            "thanks",
        ]

    # Joined over one socket: the other follows as well.
    await call_ok(b1, "join_room", {"roomId": rid})
    third = await post_message(http, server, owner, rid, "welcome back")
    for sock in (b1, b2):
        await wait_match(sock, "new_message", lambda e: e["message"]["id"] == third["id"])
    # Left over one socket: the other leaves too.
    await call_ok(b1, "leave_room", {"roomId": rid})
    await post_message(http, server, owner, rid, "gone again")
    await quiet(b2, "new_message", lambda e: e["message"]["content"] == "gone again")
    assert not [
        e for e in b1.recorder.events["new_message"] if e["message"]["content"] == "gone again"
    ]


async def test_created_room_follows_the_owners_sockets(server, http, register, sio_connect):
    owner = await register(server)
    guest = await register(server)
    o = await sio_connect(server, owner.access_token, events=ROOM_EVENTS)
    room = await create_room(http, server, owner)
    await join(http, server, guest, room["id"])
    msg = await post_message(http, server, guest, room["id"], "first!")
    await wait_match(o, "new_message", lambda e: e["message"]["id"] == msg["id"])
    await wait_match(o, "user_joined", lambda e: e["user"]["id"] == guest.id)


async def test_rooms_are_independent(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    room_a = await create_room(http, server, alice)
    room_b = await create_room(http, server, bob)
    a = await sio_connect(server, alice.access_token, events=ROOM_EVENTS)
    b = await sio_connect(server, bob.access_token, events=ROOM_EVENTS)

    in_a = await call_ok(a, "send_message", {"roomId": room_a["id"], "content": "in A"})
    in_b = await call_ok(b, "send_message", {"roomId": room_b["id"], "content": "in B"})
    await wait_match(a, "new_message", lambda e: e["message"]["id"] == in_a["message"]["id"])
    await wait_match(b, "new_message", lambda e: e["message"]["id"] == in_b["message"]["id"])
    await quiet(a, "new_message", wait=QUIET_S)
    assert [e["message"]["roomId"] for e in a.recorder.events["new_message"]] == [room_a["id"]]
    assert [e["message"]["roomId"] for e in b.recorder.events["new_message"]] == [room_b["id"]]
    # Per-room seqs: both rooms start at 1.
    assert in_a["message"]["seq"] == 1 and in_b["message"]["seq"] == 1


async def test_private_room_is_closed_to_non_member_sockets(server, http, register, sio_connect):
    owner = await register(server)
    outsider = await register(server)
    room = await create_room(http, server, owner, private=True)
    rid = room["id"]
    o = await sio_connect(server, owner.access_token, events=ROOM_EVENTS)
    x = await sio_connect(server, outsider.access_token, events=ROOM_EVENTS)

    await call_error(x, "join_room", {"roomId": rid}, "not_found")
    await call_error(x, "send_message", {"roomId": rid, "content": "hi"}, "not_found")
    await call_error(x, "leave_room", {"roomId": rid}, "not_found")
    await call_error(x, "typing_start", {"roomId": rid}, "not_found")
    await call_error(x, "mark_read", {"roomId": rid, "seq": 0}, "not_found")
    ack = await call_ok(x, "sync", {"rooms": {rid: 0}})
    assert rid not in ack["rooms"]
    assert ack["errors"][rid]["code"] == "not_found"

    msg = await call_ok(o, "send_message", {"roomId": rid, "content": "secret"})
    await wait_match(o, "new_message", lambda e: e["message"]["id"] == msg["message"]["id"])
    await quiet(x, "new_message")
    assert x.recorder.events["new_message"] == []
    status, details = await api(http, server, "GET", f"/api/rooms/{rid}", owner)
    assert status == 200, details
    assert details["memberCount"] == 1 and details["lastSeq"] == 1


async def test_invited_user_joins_over_socket(server, http, register, sio_connect):
    owner = await register(server)
    member = await register(server)
    guest = await register(server)
    room = await private_room_with(http, server, owner, member)
    rid = room["id"]
    g = await sio_connect(server, guest.access_token, events=(*ROOM_EVENTS, "room_invite"))
    m = await sio_connect(server, member.access_token, events=ROOM_EVENTS)

    await invite(http, server, owner, rid, guest)
    got = await wait_match(g, "room_invite", lambda e: e["room"]["id"] == rid)
    assert got[0]["invitedBy"] == {"id": owner.id, "username": owner.username}
    assert got[0]["room"]["isPrivate"] is True
    # The invitation alone does not put the socket in the room.
    before = await post_message(http, server, owner, rid, "before the guest joins")
    await wait_match(m, "new_message", lambda e: e["message"]["id"] == before["id"])

    await call_ok(g, "join_room", {"roomId": rid})
    await wait_match(m, "user_joined", lambda e: e["user"]["id"] == guest.id)
    after = await post_message(http, server, owner, rid, "hello guest")
    await wait_match(g, "new_message", lambda e: e["message"]["id"] == after["id"])
    assert [e["message"]["id"] for e in g.recorder.events["new_message"]] == [after["id"]]


async def test_room_events_bad_input(server, register, sio_connect):
    user = await register(server)
    s = await sio_connect(server, user.access_token, events=ROOM_EVENTS)
    for event in ("join_room", "leave_room"):
        for payload in (None, {}, {"roomId": "nope"}, {"roomId": 5}, "room", [LOBBY_ID]):
            await call_error(s, event, payload, "validation_error")
        await call_error(s, event, {"roomId": str(uuid.uuid4())}, "not_found")
    await call_error(s, "leave_room", {"roomId": LOBBY_ID}, "forbidden")
    # Still in the lobby.
    ack = await call(s, "send_message", {"roomId": LOBBY_ID, "content": "still here"})
    assert ack["ok"] is True, ack


async def test_membership_follows_sockets_on_other_instances(
    start_server, http, register, sio_connect
):
    """Two instances sharing Redis: joins, leaves and new DM conversations made through
    one instance move the user's sockets on the other."""
    one = await start_server(redis_url=REDIS_URL, instance_id="one")
    two = await start_server(redis_url=REDIS_URL, instance_id="two")
    owner = await register(one)
    bob = await register(one)
    room = await create_room(http, one, owner)
    rid = room["id"]
    events = ("new_message", "user_typing", "new_dm")
    b2 = await sio_connect(two, bob.access_token, events=events)
    o1 = await sio_connect(one, owner.access_token, events=events)

    await join(http, one, bob, rid)
    msg = await post_message(http, one, owner, rid, "hello from one")
    await wait_match(b2, "new_message", lambda e: e["message"]["id"] == msg["id"])
    # The socket on instance two knows it is in the room: typing there reaches instance one.
    await call_ok(b2, "typing_start", {"roomId": rid})
    await wait_match(o1, "user_typing", lambda e: e["roomId"] == rid and e["userId"] == bob.id)

    status, _ = await api(http, one, "DELETE", f"/api/rooms/{rid}/leave", bob)
    assert status == 204
    await post_message(http, one, owner, rid, "after bob left")
    await quiet(b2, "new_message", lambda e: e["message"]["content"] == "after bob left")
    assert [e["message"]["id"] for e in b2.recorder.events["new_message"]] == [msg["id"]]

    # A first DM sent through instance one: bob's socket on two gets it and can type back.
    dm = await post_dm(http, one, owner, bob, "psst")
    await wait_match(b2, "new_dm", lambda e: e["message"]["id"] == dm["id"])
    await call_ok(b2, "typing_start", {"userId": owner.id})
    await wait_match(o1, "user_typing", lambda e: e["roomId"] == dm["roomId"])


async def test_a_new_account_is_announced_as_joining_the_lobby(
    server, http, register, sio_connect
):
    """Registration makes the user a lobby member: the lobby hears `user_joined`, so a
    member list or count open in a browser follows it (as for any other join)."""
    watcher = await register(server)
    w = await sio_connect(server, watcher.access_token, events=ROOM_EVENTS)
    newcomer = await register(server)
    joined = await wait_match(
        w, "user_joined", lambda e: e["roomId"] == LOBBY_ID and e["user"]["id"] == newcomer.id
    )
    assert joined[0] == {
        "roomId": LOBBY_ID,
        "user": {"id": newcomer.id, "username": newcomer.username},
    }
