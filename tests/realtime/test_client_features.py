"""The Python client's bot helpers and its fixes for issue 14.6, against a real server:
live `unread` events, rooms past the first page of GET /api/rooms, an outbox-backed
`send_dm`, upload, mark_read, typing, join/leave/create room and logout."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from chat_server.api.keys import SERVICES
from schemas.rooms import ROOM_LIST_MAX
from tests.chat_helpers import post_dm, post_message, wait_match
from tests.conftest import LOBBY_ID, unique_name
from tests.realtime.client_support import (
    CRASH,
    WAIT_S,
    next_messages,
    same_port,
    wait_until,
)


async def test_unread_events_update_the_counts_live(server, new_client, register, http):
    """The server's `unread` event is {rooms: {roomId: {unread, ...}}, total?}: a DM and a
    mark_read change `client.unread` without waiting for the next sync."""
    alice = await new_client(server)
    bob = await register(server)
    syncs = alice.stats.syncs

    dm = await post_dm(http, server, bob, SimpleNamespace(id=alice.user_id), "count me")
    await wait_until(lambda: alice.unread.get(dm["roomId"]) == 1, "the DM counted as unread")
    await alice.mark_read(dm["roomId"], dm["seq"])
    await wait_until(lambda: alice.unread.get(dm["roomId"]) == 0, "the DM counted as read")
    assert alice.stats.syncs == syncs  # events, not a sync, moved the counts


async def test_rooms_past_the_first_page_are_tracked(server, new_client):
    """More member rooms than one GET /api/rooms page holds: every one is synced."""
    alice = await new_client(server, connect=False)
    rooms = server.app[SERVICES].rooms
    made = [
        await rooms.create_room(
            alice.user_id, name=unique_name("page"), description=None, is_private=True
        )
        for _ in range(ROOM_LIST_MAX + 1)
    ]

    await alice.connect()

    tracked = alice.last_seq
    assert {room["id"] for room in made} <= set(tracked)
    assert LOBBY_ID in tracked


async def test_send_dm_waits_in_the_outbox_across_a_restart(start_server, make_config, new_client):
    first = await start_server(**CRASH)
    alice = await new_client(first)
    bob = await new_client(first)

    await first.close()
    await wait_until(lambda: not alice.connected, "alice noticed the server is gone")
    sending = asyncio.ensure_future(alice.send_dm(bob.user_id, "while you were away"))
    await asyncio.sleep(0.3)
    assert not sending.done()
    assert len(alice.pending) == 1
    pending_id = alice.pending[0]

    await start_server(same_port(make_config, first))
    async with asyncio.timeout(WAIT_S):
        stored = await sending

    assert stored["clientMsgId"] == pending_id
    assert stored["recipientId"] == bob.user_id
    assert alice.pending == []
    # Bob gets it once (live or as an offline DM after his own reconnect); so does Alice.
    assert [m["id"] for m in await next_messages(bob, 1)] == [stored["id"]]
    assert [m["id"] for m in await next_messages(alice, 1)] == [stored["id"]]
    history = await bob.dm_history(alice.user_id)
    assert [m["content"] for m in history["messages"]].count("while you were away") == 1
    await asyncio.sleep(0.3)
    assert bob.messages.empty() and alice.messages.empty()


async def test_upload_then_send_the_file(server, new_client, tmp_path):
    alice = await new_client(server)
    path = tmp_path / "notes.txt"
    path.write_bytes(b"plain text notes\n")

    from_path = await alice.upload(path)
    from_bytes = await alice.upload(b"more notes\n", filename="more.txt")

    assert from_path["name"] == "notes.txt" and from_path["mimeType"] == "text/plain"
    assert from_bytes["size"] == len(b"more notes\n")
    sent = await alice.send(LOBBY_ID, "see file", message_type="file", file_id=from_path["id"])
    assert sent["file"]["id"] == from_path["id"]


async def test_typing_create_join_and_leave(server, new_client, sio_connect, register, http):
    alice = await new_client(server)
    bob = await register(server)
    watcher = await sio_connect(
        server, bob.access_token, events=("user_typing", "user_stopped_typing")
    )

    await alice.typing(LOBBY_ID)
    await wait_match(watcher, "user_typing", lambda e: e["userId"] == alice.user_id)
    await alice.typing(LOBBY_ID, active=False)
    await wait_match(watcher, "user_stopped_typing", lambda e: e["userId"] == alice.user_id)

    room = await alice.create_room(unique_name("made"), description="by a bot")
    assert room["id"] in alice.last_seq
    other = await new_client(server)
    joined = await other.join_room(room["id"])
    assert joined["id"] == room["id"] and room["id"] in other.last_seq
    message = await alice.send(room["id"], "welcome")
    assert await next_messages(other, 1) == [message]
    await other.leave_room(room["id"])
    assert room["id"] not in other.last_seq
    # Messages of a room left are no longer delivered.
    await alice.send(room["id"], "after leaving")
    await post_message(http, server, bob, LOBBY_ID, "in the lobby")
    assert [m["content"] for m in await next_messages(other, 1)] == ["in the lobby"]


async def test_logout_ends_the_session_and_closes(server, new_client, http):
    alice = await new_client(server)
    refresh = alice.refresh_token_value

    await alice.logout()

    assert not alice.connected
    async with http.post(f"{server.url}/api/auth/refresh", json={"refreshToken": refresh}) as resp:
        assert resp.status == 401
