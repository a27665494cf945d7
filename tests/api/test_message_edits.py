"""Editing and deleting messages over REST (issue 16, docs/contract.md §12): who may, what
an edit and a tombstone hold, the edit history, and that every refusal changes nothing.

Owns: PATCH/DELETE /api/rooms/:id/messages/:messageId and GET .../edits. The change feed
and recovery are tests/api/test_message_changes_feed.py; live events are
tests/realtime/test_message_edits.py.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg

from tests.chat_helpers import api, create_room, join, post_dm, post_message, private_room_with
from tests.conftest import LOBBY_ID
from tests.edit_helpers import current, delete, edit, edits_of, message_path, room_change_seq


async def assert_unchanged(http, server, user, message, change_seq):
    """Nothing happened to `message` since it was `message` (the room's counter too)."""
    now = await current(http, server, user, message)
    assert now == message
    assert (await edits_of(http, server, user, message))["edits"] == []
    assert await room_change_seq(http, server, user, message["roomId"]) == change_seq


async def test_the_author_edits_and_the_old_version_is_kept(server, http, register):
    alice, bob = await register(server), await register(server)
    room = await create_room(http, server, alice)
    await join(http, server, bob, room["id"])
    original = await post_message(http, server, alice, room["id"], "helo *world*")
    before = await room_change_seq(http, server, alice, room["id"])

    status, body = await edit(http, server, alice, original, "hello **world**")

    assert status == 200, body
    edited = body["message"]
    assert edited["id"] == original["id"]
    assert edited["seq"] == original["seq"]
    assert edited["content"] == "hello **world**"
    assert "<strong>world</strong>" in edited["contentHtml"]
    assert edited["editedAt"] >= original["createdAt"]
    assert edited["changeSeq"] == before + 1
    assert await room_change_seq(http, server, bob, room["id"]) == before + 1
    # History pages return the current state; the other member reads the same.
    assert await current(http, server, bob, original) == edited
    history = await edits_of(http, server, bob, original)
    assert history["message"] == edited
    assert history["edits"] == [
        {
            "content": "helo *world*",
            "contentHtml": original["contentHtml"],
            "writtenAt": original["createdAt"],
            "replacedAt": edited["editedAt"],
        }
    ]

    status, body = await edit(http, server, alice, original, "hello world")
    assert status == 200, body
    versions = (await edits_of(http, server, alice, original))["edits"]
    assert [v["content"] for v in versions] == ["helo *world*", "hello **world**"]
    assert versions[1]["writtenAt"] == edited["editedAt"]
    assert body["message"]["changeSeq"] == before + 2


async def test_an_edit_is_sanitised_like_a_send(server, http, register):
    alice = await register(server)
    message = await post_message(http, server, alice, LOBBY_ID, "plain")
    status, body = await edit(
        http, server, alice, message, '<img src=x onerror="alert(1)">[x](javascript:alert(1))'
    )
    assert status == 200, body
    html = body["message"]["contentHtml"]
    assert "<img" not in html
    assert "href" not in html


async def test_the_same_text_again_changes_nothing(server, http, register):
    alice = await register(server)
    message = await post_message(http, server, alice, LOBBY_ID, "once")
    before = await room_change_seq(http, server, alice, LOBBY_ID)

    status, body = await edit(http, server, alice, message, "once")

    assert status == 200, body
    assert body["message"] == message
    await assert_unchanged(http, server, alice, message, before)


async def test_only_the_author_may_edit_and_refusals_change_nothing(server, http, register):
    alice, bob, carol = await register(server), await register(server), await register(server)
    room = await private_room_with(http, server, alice, bob)
    message = await post_message(http, server, alice, room["id"], "mine")
    elsewhere = await post_message(http, server, alice, LOBBY_ID, "in the lobby")
    before = await room_change_seq(http, server, alice, room["id"])

    # A member who did not write it: 403.
    status, body = await edit(http, server, bob, message, "bob's now")
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    # Someone who may not see the private room: 404, as for a room that does not exist.
    status, body = await edit(http, server, carol, message, "carol's now")
    assert status == 404, body
    status, body = await edit(http, server, carol, {**message, "id": str(uuid.uuid4())}, "x")
    assert status == 404, body
    status, body = await edit(http, server, alice, {**message, "roomId": str(uuid.uuid4())}, "x")
    assert status == 404, body
    # A message of another room, addressed through this one: 404.
    status, body = await edit(http, server, alice, {**elsewhere, "roomId": room["id"]}, "x")
    assert status == 404, body
    assert body["error"]["code"] == "not_found"

    await assert_unchanged(http, server, alice, message, before)


async def test_a_public_room_not_joined_is_refused_as_for_sending(server, http, register):
    alice, bob = await register(server), await register(server)
    room = await create_room(http, server, alice)
    await join(http, server, bob, room["id"])
    message = await post_message(http, server, bob, room["id"], "hello")
    status, body = await api(http, server, "DELETE", f"/api/rooms/{room['id']}/leave", bob)
    assert status in (200, 204), body

    status, body = await edit(http, server, bob, message, "after leaving")

    assert status == 403, body
    assert body["error"]["message"] == "Join the room first"
    assert (await current(http, server, alice, message))["content"] == "hello"


async def test_edits_follow_the_sending_rules(server, http, register):
    alice = await register(server)
    message = await post_message(http, server, alice, LOBBY_ID, "valid")
    before = await room_change_seq(http, server, alice, LOBBY_ID)
    path = message_path(LOBBY_ID, message["id"])
    bad_bodies = [
        {"content": "x" * 5001},
        {"content": "bell\u0007"},
        {"content": "broken \ud83d emoji"},
        {},
        {"content": 5},
        # An edit cannot attach a file (issue 16, item 4): unknown fields are refused.
        {"content": "with a file", "fileId": str(uuid.uuid4())},
        {"content": "typed", "messageType": "image"},
    ]
    for bad in bad_bodies:
        status, body = await api(http, server, "PATCH", path, alice, json=bad)
        assert status == 400, (bad, body)
        assert body["error"]["code"] == "validation_error", (bad, body)
    # Blank text is well formed (file captions may be empty) but does not fit a text
    # message: 409, as for a file sent with the wrong messageType.
    for blank in ("", "   ", "\n\t"):
        status, body = await edit(http, server, alice, message, blank)
        assert status == 409, (blank, body)
        assert body["error"]["fields"] == {"content": ["Must not be blank."]}
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before
    status, body = await edit(http, server, alice, message, "x" * 5000)
    assert status == 200, body
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before + 1


async def test_a_deleted_message_is_a_tombstone(server, http, register):
    alice, bob = await register(server), await register(server)
    room = await create_room(http, server, alice)
    await join(http, server, bob, room["id"])
    message = await post_message(http, server, bob, room["id"], "first")
    status, body = await edit(http, server, bob, message, "second")
    assert status == 200, body

    status, body = await delete(http, server, bob, message)

    assert status == 200, body
    tomb = body["message"]
    assert tomb["id"] == message["id"]
    assert tomb["seq"] == message["seq"]
    assert tomb["content"] == ""
    assert tomb["contentHtml"] == ""
    assert tomb["deletedAt"]
    assert tomb["reactions"] == []
    assert tomb["pinned"] is False
    assert "fileId" not in tomb
    # The text is gone everywhere: history pages, the edit history.
    assert await current(http, server, alice, message) == tomb
    assert (await edits_of(http, server, alice, message))["edits"] == []
    change_seq = await room_change_seq(http, server, alice, room["id"])
    assert tomb["changeSeq"] == change_seq

    # Deleting again answers the same tombstone and takes no change number.
    status, body = await delete(http, server, bob, message)
    assert status == 200, body
    assert body["message"] == tomb
    # A tombstone cannot be edited back to life.
    status, body = await edit(http, server, bob, message, "back")
    assert status == 409, body
    assert body["error"]["code"] == "conflict"
    assert await current(http, server, alice, message) == tomb
    assert await room_change_seq(http, server, alice, room["id"]) == change_seq


async def test_owners_and_admins_delete_others_members_do_not(server, http, register, database_url):
    owner, admin, member, writer = [await register(server) for _ in range(4)]
    room = await create_room(http, server, owner)
    for user in (admin, member, writer):
        await join(http, server, user, room["id"])
    conn = await asyncpg.connect(database_url)
    try:
        # No endpoint grants the admin role yet: the test gives it directly.
        await conn.execute(
            "UPDATE room_members SET role = 'admin' WHERE room_id = $1 AND user_id = $2",
            uuid.UUID(room["id"]),
            uuid.UUID(admin.id),
        )
    finally:
        await conn.close()
    first = await post_message(http, server, writer, room["id"], "one")
    second = await post_message(http, server, writer, room["id"], "two")
    before = await room_change_seq(http, server, owner, room["id"])

    status, body = await delete(http, server, member, first)
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    await assert_unchanged(http, server, owner, first, before)

    status, body = await delete(http, server, owner, first)
    assert status == 200, body
    assert body["message"]["deletedAt"]
    status, body = await delete(http, server, admin, second)
    assert status == 200, body
    assert body["message"]["deletedAt"]
    assert await room_change_seq(http, server, owner, room["id"]) == before + 2
    # Owners and admins delete; they do not edit others' words.
    third = await post_message(http, server, writer, room["id"], "three")
    status, body = await edit(http, server, owner, third, "owner's words")
    assert status == 403, body


async def test_delete_refusals_for_outsiders(server, http, register):
    alice, carol = await register(server), await register(server)
    room = await private_room_with(http, server, alice)
    message = await post_message(http, server, alice, room["id"], "private")
    before = await room_change_seq(http, server, alice, room["id"])

    status, body = await delete(http, server, carol, message)
    assert status == 404, body
    status, body = await delete(http, server, alice, {**message, "id": str(uuid.uuid4())})
    assert status == 404, body
    status, body = await api(
        http, server, "GET", message_path(room["id"], message["id"]) + "/edits", carol
    )
    assert status == 404, body
    await assert_unchanged(http, server, alice, message, before)


async def test_two_racing_edits_end_with_one_winner_and_both_in_history(server, http, register):
    alice = await register(server)
    message = await post_message(http, server, alice, LOBBY_ID, "original")
    before = await room_change_seq(http, server, alice, LOBBY_ID)

    results = await asyncio.gather(
        edit(http, server, alice, message, "version A"),
        edit(http, server, alice, message, "version B"),
    )

    assert [status for status, _ in results] == [200, 200], results
    final = (await current(http, server, alice, message))["content"]
    assert final in ("version A", "version B")
    loser = "version B" if final == "version A" else "version A"
    versions = [v["content"] for v in (await edits_of(http, server, alice, message))["edits"]]
    assert versions == ["original", loser]
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before + 2
    change_seqs = sorted(body["message"]["changeSeq"] for _, body in results)
    assert change_seqs == [before + 1, before + 2]


async def test_direct_messages_change_through_the_room_paths(server, http, register):
    alice, bob = await register(server), await register(server)
    dm = await post_dm(http, server, alice, bob, "hi bob")

    status, body = await edit(http, server, alice, dm, "hi Bob")
    assert status == 200, body
    edited = body["message"]
    # Clients replace their copy by id: the DM fields stay.
    assert edited["senderId"] == alice.id
    assert edited["senderUsername"] == alice.username
    assert edited["recipientId"] == bob.id
    status, page = await api(http, server, "GET", f"/api/direct-messages/{alice.id}", bob)
    assert status == 200, page
    assert [m["content"] for m in page["messages"]] == ["hi Bob"]
    assert page["messages"][0]["editedAt"] == edited["editedAt"]

    status, body = await edit(http, server, bob, dm, "bob's now")
    assert status == 403, body
    status, body = await delete(http, server, bob, dm)
    assert status == 403, body


async def test_a_blocked_author_may_not_edit_but_may_take_a_message_back(server, http, register):
    alice, bob = await register(server), await register(server)
    dm = await post_dm(http, server, alice, bob, "something regrettable")
    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    before = await room_change_seq(http, server, alice, dm["roomId"])

    status, body = await edit(http, server, alice, dm, "something worse")
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    assert (await current(http, server, bob, dm))["content"] == "something regrettable"
    assert await room_change_seq(http, server, alice, dm["roomId"]) == before

    status, body = await delete(http, server, alice, dm)
    assert status == 200, body
    assert body["message"]["deletedAt"]
    assert body["message"]["recipientId"] == bob.id


async def test_room_summaries_carry_the_change_counter(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    assert room["changeSeq"] == 0
    message = await post_message(http, server, alice, room["id"], "count me")
    await edit(http, server, alice, message, "counted")
    await delete(http, server, alice, message)

    assert await room_change_seq(http, server, alice, room["id"]) == 2
    status, listing = await api(
        http, server, "GET", "/api/rooms", alice, params={"search": room["name"]}
    )
    assert status == 200, listing
    assert [r["changeSeq"] for r in listing["rooms"] if r["id"] == room["id"]] == [2]
