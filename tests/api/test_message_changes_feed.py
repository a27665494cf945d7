"""Recovering message changes over REST (issue 16, docs/contract.md §12): the change feed
`GET /api/rooms/:id/changes`, and a deleted message's file.

Owns: a client that was away while others edited and deleted gets every changed message
once, in changeSeq order, with gap-free paging; who may read the feed; files of deleted
messages. `sync`'s `changes` is tests/realtime/test_message_edits.py.
"""

from __future__ import annotations

import uuid

from tests.chat_helpers import api, create_room, join, post_message, private_room_with
from tests.edit_helpers import all_changes, changes, current, delete, edit, room_change_seq
from tests.uploads_helpers import multipart

# More changes than one page holds several times over.
CHANGES = 25
PAGE = 4


async def test_a_client_away_during_25_changes_recovers_each_message_once_in_order(
    server, http, register
):
    alice, bob = await register(server), await register(server)
    room = await create_room(http, server, alice)
    await join(http, server, bob, room["id"])
    messages = [await post_message(http, server, bob, room["id"], f"m{i}") for i in range(10)]
    seen = await room_change_seq(http, server, alice, room["id"])  # alice goes away here

    for i in range(CHANGES):
        target = messages[(i * 3) % len(messages)]
        if i >= CHANGES - 5:  # the last five delete five distinct messages
            status, body = await delete(http, server, bob, target)
        else:
            status, body = await edit(http, server, bob, target, f"{target['content']} v{i}")
        assert status == 200, body

    recovered, cursor = await all_changes(http, server, alice, room["id"], seen, PAGE)

    ids = [m["id"] for m in recovered]
    assert len(ids) == len(set(ids)), "each changed message once"
    seqs = [m["changeSeq"] for m in recovered]
    assert seqs == sorted(seqs) and seqs[0] > seen
    assert cursor == await room_change_seq(http, server, alice, room["id"]) == seen + CHANGES
    assert seqs[-1] == cursor
    changed = {messages[(i * 3) % len(messages)]["id"] for i in range(CHANGES)}
    assert set(ids) == changed
    for message in recovered:  # each in its current state, as history shows it
        assert message == await current(http, server, alice, message)
    # Nothing is left after the cursor.
    status, page = await changes(http, server, alice, room["id"], cursor)
    assert status == 200, page
    assert page == {"messages": [], "changeSeq": cursor, "hasMore": False}


async def test_paging_stays_gap_free_while_changes_keep_coming(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    messages = [await post_message(http, server, alice, room["id"], f"m{i}") for i in range(6)]
    for message in messages:
        await edit(http, server, alice, message, message["content"] + " edited")

    status, first = await changes(http, server, alice, room["id"], 0, 3)
    assert status == 200, first
    assert first["hasMore"] is True
    assert first["changeSeq"] == first["messages"][-1]["changeSeq"] == 3
    # While the client pages, a message it already has changes again, and one it has not.
    await edit(http, server, alice, messages[0], "changed while paging")
    await delete(http, server, alice, messages[4])

    rest, cursor = await all_changes(http, server, alice, room["id"], first["changeSeq"], 3)

    assert [m["changeSeq"] for m in rest] == [4, 6, 7, 8]
    assert [m["id"] for m in rest] == [
        messages[3]["id"],
        messages[5]["id"],
        messages[0]["id"],
        messages[4]["id"],
    ]
    assert rest[2]["content"] == "changed while paging"
    assert rest[3]["deletedAt"]
    assert cursor == 8


async def test_the_feed_is_for_readers_of_the_room(server, http, register):
    alice, carol = await register(server), await register(server)
    room = await private_room_with(http, server, alice)
    message = await post_message(http, server, alice, room["id"], "private")
    await edit(http, server, alice, message, "still private")

    status, body = await changes(http, server, carol, room["id"], 0)
    assert status == 404, body
    status, body = await changes(http, server, alice, str(uuid.uuid4()), 0)
    assert status == 404, body
    for bad in ({"after": -1}, {"after": "x"}, {"limit": 0}, {"limit": 101}, {"since": 1}):
        status, body = await api(
            http, server, "GET", f"/api/rooms/{room['id']}/changes", alice, params=bad
        )
        assert status == 400, (bad, body)
    status, page = await changes(http, server, alice, room["id"], 0)
    assert status == 200, page
    assert [m["content"] for m in page["messages"]] == ["still private"]


async def upload_text(http, server, user, text: bytes) -> dict:
    body, content_type = multipart("notes.txt", text)
    headers = {"Content-Type": content_type, **user.headers}
    async with http.post(f"{server.url}/api/upload", data=body, headers=headers) as resp:
        uploaded = await resp.json()
        assert resp.status == 201, uploaded
        return uploaded  # type: ignore[no-any-return]


async def read_file(http, server, user, url: str) -> int:
    async with http.get(f"{server.url}{url}", headers=user.headers) as resp:
        await resp.read()
        return resp.status


async def test_a_deleted_messages_file_is_no_longer_readable_through_it(server, http, register):
    alice, bob = await register(server), await register(server)
    room = await private_room_with(http, server, bob, alice)
    doc = await upload_text(http, server, bob, b"the minutes\n")
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{room['id']}/messages",
        bob,
        json={"fileId": doc["id"], "messageType": "file", "content": "see attached"},
    )
    assert status == 201, body
    message = body["message"]
    assert await read_file(http, server, alice, doc["url"]) == 200

    status, body = await delete(http, server, bob, message)

    assert status == 200, body
    assert "fileId" not in body["message"] and "file" not in body["message"]
    assert await read_file(http, server, alice, doc["url"]) == 404
    # Its owner still has it (and may share it again).
    assert await read_file(http, server, bob, doc["url"]) == 200


async def test_a_files_caption_may_be_emptied_but_the_file_stays(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    doc = await upload_text(http, server, alice, b"agenda\n")
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{room['id']}/messages",
        alice,
        json={"fileId": doc["id"], "messageType": "file", "content": "agenda attached"},
    )
    assert status == 201, body

    status, body = await edit(http, server, alice, body["message"], "")

    assert status == 200, body
    assert body["message"]["content"] == ""
    assert body["message"]["fileId"] == doc["id"]
    assert body["message"]["file"]["url"] == doc["url"]
