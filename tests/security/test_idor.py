"""Authorisation sweep (IDOR): for every route and event that takes an id, a user who may
not see the thing gets exactly what a random id gets (404, same body) and learns nothing;
private rooms and DMs never show up in another user's listings, search, typing, presence
or sync; owner/admin-only actions are refused to plain members."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest

from chat_server.api.openapi import OPERATIONS
from tests.chat_helpers import (
    api,
    call,
    create_room,
    invite,
    join,
    post_dm,
    post_message,
    quiet,
)
from tests.conftest import LOBBY_ID
from tests.uploads_helpers import plain_png

SECRET = "the launch code is 0000"
THUMBS = "\U0001f44d"
# Bodies for the routes that take one; ids in them are filled in per test.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("post", "/api/rooms/{id}/messages"): {"content": "let me in"},
    ("post", "/api/rooms/{id}/invites"): {"userId": "{me}"},
    ("post", "/api/direct-messages/{userId}"): {"content": "hi"},
    ("patch", "/api/rooms/{id}/messages/{messageId}"): {"content": "mine now"},
}


async def upload(http, server, user, data: bytes, name: str) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field("file", data, filename=name, content_type="image/png")
    async with http.post(f"{server.url}/api/upload", data=form, headers=user.headers) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return body  # type: ignore[no-any-return]


@pytest.fixture
async def world(server, http, register):
    """alice owns a private room (bob is a member) with a message and an image; alice and
    carol have a DM with a message and an image; mallory is a stranger to both."""
    alice, bob, carol, mallory = [await register(server) for _ in range(4)]
    room = await create_room(
        http,
        server,
        alice,
        f"secret_{uuid.uuid4().hex[:6]}",
        private=True,
        description="top secret plans",
    )
    await invite(http, server, alice, room["id"], bob)
    await join(http, server, bob, room["id"])
    room_file = await upload(http, server, alice, plain_png(), "plans.png")
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{room['id']}/messages",
        alice,
        json={"content": "", "messageType": "image", "fileId": room_file["id"]},
    )
    assert status == 201, body
    room_message = await post_message(http, server, alice, room["id"], SECRET)
    dm_file = await upload(http, server, carol, plain_png(color=(200, 0, 0)), "private.png")
    dm = await post_dm(http, server, alice, carol, SECRET)
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/direct-messages/{alice.id}",
        carol,
        json={"content": "", "messageType": "image", "fileId": dm_file["id"]},
    )
    assert status == 201, body
    return {
        "server": server,
        "http": http,
        "alice": alice,
        "bob": bob,
        "carol": carol,
        "mallory": mallory,
        "room": room,
        "room_message": room_message,
        "room_file": room_file,
        "dm": dm,
        "dm_room": dm["roomId"],
        "dm_file": dm_file,
    }


def _fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], template)
    if isinstance(template, dict):
        return {k: _fill(v, ids) for k, v in template.items()}
    return template


async def test_every_room_route_hides_private_rooms_and_dms(world):
    """Each room-id route, for mallory, on the private room, on the DM's room, and on an id
    that does not exist: the same 404 and the same body."""
    server, http, mallory = world["server"], world["http"], world["mallory"]
    room_routes = [op for op in OPERATIONS if "{id}" in op.path]
    assert len(room_routes) >= 8
    for op in room_routes:
        answers = {}
        for label, target, message_id in (
            # Message routes get the room's real message: still nothing to learn.
            ("private room", world["room"]["id"], world["room_message"]["id"]),
            ("dm room", world["dm_room"], world["dm"]["id"]),
            ("no such room", str(uuid.uuid4()), str(uuid.uuid4())),
        ):
            ids = {
                "id": target,
                "me": mallory.id,
                "messageId": message_id,
                "emoji": quote(THUMBS, safe=""),
            }
            body = _fill(BODIES.get((op.method, op.path)), ids)
            status, answer = await api(
                http, server, op.method.upper(), _fill(op.path, ids), mallory, json=body
            )
            assert status == 404, (op.method, op.path, label, answer)
            answers[label] = answer
        # Indistinguishable from a room that does not exist.
        assert answers["private room"] == answers["no such room"], op.path
        assert answers["dm room"] == answers["no such room"], op.path
    # And mallory was not let in anywhere by trying.
    await _nothing_visible(world)


async def _nothing_visible(world) -> None:
    server, http, mallory = world["server"], world["http"], world["mallory"]
    status, rooms = await api(http, server, "GET", "/api/rooms", mallory, params={"limit": 200})
    assert status == 200
    ids = {r["id"] for r in rooms["rooms"]}
    assert world["room"]["id"] not in ids and world["dm_room"] not in ids
    status, body = await api(http, server, "GET", "/api/direct-messages", mallory)
    assert status == 200 and body["conversations"] == []
    status, body = await api(http, server, "GET", "/api/invites", mallory)
    assert status == 200 and body["invites"] == []


async def test_search_and_listings_never_show_others_private_things(world):
    server, http, mallory = world["server"], world["http"], world["mallory"]
    name = world["room"]["name"]
    for term in (name, name[:8], "secret", "top secret", "%", "_", "%secret%"):
        status, body = await api(
            http, server, "GET", "/api/rooms", mallory, params={"search": term}
        )
        assert status == 200, body
        assert all(r["kind"] == "public" for r in body["rooms"]), (term, body)
        assert world["room"]["id"] not in {r["id"] for r in body["rooms"]}
    # Member listing of the lobby shows people, not their private rooms or DMs.
    status, body = await api(http, server, "GET", f"/api/rooms/{LOBBY_ID}/members", mallory)
    assert status == 200
    assert SECRET not in str(body) and world["room"]["id"] not in str(body)
    # mallory's own DM "history" with alice is their own (empty) conversation.
    status, body = await api(
        http, server, "GET", f"/api/direct-messages/{world['alice'].id}", mallory
    )
    assert status == 200, body
    assert body["messages"] == [] and body["roomId"] is None
    # The members see it (the fixture's data is real).
    status, body = await api(
        http, server, "GET", "/api/rooms", world["bob"], params={"search": name}
    )
    assert world["room"]["id"] in {r["id"] for r in body["rooms"]}
    status, body = await api(http, server, "GET", "/api/direct-messages", world["carol"])
    assert [c["roomId"] for c in body["conversations"]] == [world["dm_room"]]


async def test_files_are_readable_only_by_those_who_can_see_them(world):
    server, http = world["server"], world["http"]
    room_file, dm_file = world["room_file"], world["dm_file"]
    urls = [room_file["url"], room_file["thumbnailUrl"], dm_file["url"], dm_file["thumbnailUrl"]]
    random_name = f"/api/files/{uuid.uuid4().hex}.png"
    status, missing = await api(http, server, "GET", random_name, world["mallory"])
    assert status == 404
    for url in urls:
        status, body = await api(http, server, "GET", url, world["mallory"])
        assert (status, body) == (404, missing), url
    # Path tricks do not reach other files.
    for trick in (
        "../data/jwt_secret",
        "..%2F..%2Fjwt_secret",
        room_file["url"].split("/")[-1] + "/../x",
        "%00.png",
    ):
        status, _ = await api(http, server, "GET", f"/api/files/{trick}", world["mallory"])
        assert status == 404, trick
    # Who may: the room's member and the DM's two people.
    for user, url in (
        (world["bob"], room_file["url"]),
        (world["alice"], dm_file["url"]),
        (world["carol"], dm_file["thumbnailUrl"]),
    ):
        async with http.get(server.url + url, headers=user.headers) as resp:
            assert resp.status == 200, url
    # Nobody can attach someone else's upload to their own message to read it.
    for file in (room_file, dm_file):
        status, body = await api(
            http,
            server,
            "POST",
            f"/api/rooms/{LOBBY_ID}/messages",
            world["mallory"],
            json={"content": "", "messageType": "image", "fileId": file["id"]},
        )
        assert status == 404, body
        status, body = await api(
            http,
            server,
            "POST",
            f"/api/direct-messages/{world['bob'].id}",
            world["mallory"],
            json={"content": "", "messageType": "image", "fileId": file["id"]},
        )
        assert status == 404, body


async def test_socket_events_hide_private_rooms_and_dms(world, sio_connect):
    server, mallory = world["server"], world["mallory"]
    spy = await sio_connect(
        server,
        mallory.access_token,
        events=(
            "new_message",
            "new_dm",
            "user_typing",
            "read_receipt",
            "delivery_receipt",
            "user_joined",
            "unread",
            "presence",
        ),
    )
    for target in (world["room"]["id"], world["dm_room"], str(uuid.uuid4())):
        for event, payload in (
            ("send_message", {"roomId": target, "content": "in?"}),
            ("join_room", {"roomId": target}),
            ("leave_room", {"roomId": target}),
            ("typing_start", {"roomId": target}),
            ("typing_stop", {"roomId": target}),
            ("mark_read", {"roomId": target, "seq": 1}),
            ("delivered", {"roomId": target, "seq": 1}),
        ):
            ack = await call(spy, event, payload)
            assert ack["ok"] is False and ack["error"]["code"] == "not_found", (event, ack)
        ack = await call(spy, "sync", {"rooms": {target: 0}})
        assert ack["ok"] is True and ack["rooms"] == {}, ack
        assert ack["errors"][target]["code"] == "not_found"
        # Changing a message of the room (its real one) or recovering its changes.
        real = {world["room"]["id"]: world["room_message"], world["dm_room"]: world["dm"]}
        message_id = real[target]["id"] if target in real else str(uuid.uuid4())
        where = {"roomId": target, "messageId": message_id}
        for event, payload in (
            ("edit_message", {**where, "content": "mine now"}),
            ("delete_message", where),
            ("add_reaction", {**where, "emoji": THUMBS}),
            ("remove_reaction", {**where, "emoji": THUMBS}),
            ("pin_message", where),
            ("unpin_message", where),
            ("send_message", {"roomId": target, "content": "re", "threadId": message_id}),
        ):
            ack = await call(spy, event, payload)
            assert ack["ok"] is False and ack["error"]["code"] == "not_found", (event, ack)
        ack = await call(spy, "sync", {"rooms": {}, "changes": {target: 0}})
        assert ack["ok"] is True and ack["changes"] == {}, ack
        assert ack["errors"][target]["code"] == "not_found"
    # A DM conversation mallory is not part of, named by the other person.
    for event, payload in (
        ("typing_start", {"userId": world["carol"].id}),
        ("mark_read", {"userId": world["carol"].id, "seq": 1}),
        ("delivered", {"userId": world["carol"].id, "seq": 1}),
    ):
        ack = await call(spy, event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", (event, ack)
    # What happens inside reaches the members and never the spy.
    alice = await sio_connect(server, world["alice"].access_token)
    bob = await sio_connect(
        server, world["bob"].access_token, events=("user_typing", "new_message")
    )
    for payload in ({"roomId": world["room"]["id"]}, {"userId": world["carol"].id}):
        assert (await call(alice, "typing_start", payload))["ok"] is True
    await call(alice, "send_message", {"roomId": world["room"]["id"], "content": "psst"})
    await call(alice, "send_dm", {"recipientId": world["carol"].id, "content": "psst"})
    await call(alice, "mark_read", {"roomId": world["room"]["id"], "seq": 1})
    await call(alice, "delivered", {"userId": world["carol"].id, "seq": 1})
    dave = await _register_and_invite(world)
    await bob.recorder.wait_for("new_message")
    assert bob.recorder.events["user_typing"], "members do see typing"
    for name in (
        "new_message",
        "new_dm",
        "user_typing",
        "read_receipt",
        "delivery_receipt",
        "user_joined",
    ):
        await quiet(spy, name, wait=0.3)
        # The lobby is public and the spy is in it: dave's account joining it is news there.
        leaked = [
            e
            for e in spy.recorder.events[name]
            if not (isinstance(e, dict) and e.get("roomId") == LOBBY_ID)
        ]
        assert leaked == [], (name, leaked)
    assert all(
        world["room"]["id"] not in e["rooms"] and world["dm_room"] not in e["rooms"]
        for e in spy.recorder.events["unread"]
    )
    assert dave


async def _register_and_invite(world) -> Any:
    http, server = world["http"], world["server"]
    name = f"dave_{uuid.uuid4().hex[:6]}"
    status, body = await api(
        http,
        server,
        "POST",
        "/api/auth/register",
        json={
            "email": f"{name}@example.test",
            "username": name,
            "password": "correct horse battery",
        },
    )
    assert status == 201
    dave_id = body["user"]["id"]
    status, _ = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{world['room']['id']}/invites",
        world["alice"],
        json={"userId": dave_id},
    )
    assert status == 201
    headers = {"Authorization": f"Bearer {body['accessToken']}"}
    async with http.post(
        f"{server.url}/api/rooms/{world['room']['id']}/join", headers=headers
    ) as resp:
        assert resp.status == 200
    return dave_id


async def test_owner_only_actions_are_refused_to_members(world):
    server, http, bob, mallory = world["server"], world["http"], world["bob"], world["mallory"]
    room_id = world["room"]["id"]
    # bob is a member, not owner/admin: may not invite (and knows the room: 403, not 404).
    status, body = await api(
        http, server, "POST", f"/api/rooms/{room_id}/invites", bob, json={"userId": mallory.id}
    )
    assert status == 403, body
    status, body = await api(http, server, "GET", f"/api/rooms/{room_id}", mallory)
    assert status == 404, "the failed invite let nothing through"
    # Nobody leaves the lobby, nobody leaves a DM (kept for both sides' history).
    status, _ = await api(http, server, "DELETE", f"/api/rooms/{LOBBY_ID}/leave", bob)
    assert status == 403
    status, _ = await api(
        http, server, "DELETE", f"/api/rooms/{world['dm_room']}/leave", world["alice"]
    )
    assert status == 403
    # An invitee may look at the room before joining, not read its messages.
    await invite(http, server, world["alice"], room_id, mallory)
    status, body = await api(http, server, "GET", f"/api/rooms/{room_id}", mallory)
    assert status == 200 and body["isInvited"] is True and body["isMember"] is False
    status, body = await api(http, server, "GET", f"/api/rooms/{room_id}/messages", mallory)
    assert status == 403 and SECRET not in str(body)
    status, body = await api(http, server, "GET", f"/api/rooms/{room_id}/reads", mallory)
    assert status == 404


async def test_user_id_routes_learn_nothing_private(world):
    server, http, mallory = world["server"], world["http"], world["mallory"]
    ghost = str(uuid.uuid4())
    for method, path in (
        ("POST", "/api/users/{}/block"),
        ("DELETE", "/api/users/{}/block"),
        ("GET", "/api/direct-messages/{}"),
        ("POST", "/api/direct-messages/{}"),
    ):
        status, body = await api(
            http,
            server,
            method,
            path.format(ghost),
            mallory,
            json={"content": "x"} if method == "POST" else None,
        )
        assert status == 404, (method, path, body)
    # A block is private to the blocker: carol blocks mallory; mallory's DM is refused
    # without saying more, and carol's data does not leak through the refusal.
    status, _ = await api(http, server, "POST", f"/api/users/{mallory.id}/block", world["carol"])
    assert status == 204
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/direct-messages/{world['carol'].id}",
        mallory,
        json={"content": "hello?"},
    )
    assert status == 403 and SECRET not in str(body)
    # The directory shows public fields only, found by id or by username prefix.
    alice = world["alice"]
    status, profile = await api(http, server, "GET", f"/api/users/{alice.id}", mallory)
    assert status == 200 and profile["id"] == alice.id, profile
    assert "email" not in profile and alice.email not in str(profile)
    status, found = await api(
        http, server, "GET", "/api/users", mallory, params={"search": alice.username}
    )
    assert status == 200 and [u["id"] for u in found["users"]] == [alice.id], found
    assert alice.email not in str(found) and "email" not in found["users"][0]
    status, _ = await api(http, server, "GET", f"/api/users/{ghost}", mallory)
    assert status == 404
    # Nobody reads another person's profile through /users/me (the token decides).
    status, me = await api(http, server, "GET", "/api/users/me", mallory)
    assert me["id"] == mallory.id and world["alice"].email not in str(me)
