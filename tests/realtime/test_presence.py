"""Presence: online while any connection lives (tabs count once), offline with lastSeen after
the last one closes, only to the rooms a user shares (and only small ones), across two
instances sharing Redis (issue 3, docs/contract.md §8).

The lobby holds every test user, so these tests put users in a small private room or a DM
and only look at presence events about the user under test.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
import socketio

from chat_server.api.keys import SERVICES
from chat_server.services import presence as presence_module
from tests.chat_helpers import (
    PRESENCE_QUIET_S,
    api,
    post_dm,
    private_room_with,
    quiet,
    wait_match,
)
from tests.conftest import REDIS_URL


def about(user: Any, status: str | None = None):
    def pred(e: dict[str, Any]) -> bool:
        return e["userId"] == user.id and (status is None or e["status"] == status)

    return pred


async def member(http, server, viewer, room_id: str, user) -> dict[str, Any]:
    status, page = await api(
        http, server, "GET", f"/api/rooms/{room_id}/members", viewer, params={"limit": 500}
    )
    assert status == 200, page
    found = [m for m in page["members"] if m["id"] == user.id]
    assert found, page
    return found[0]  # type: ignore[no-any-return]


async def test_online_until_the_last_tab_closes(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    room = await private_room_with(http, server, bob, alice)
    rid = room["id"]
    watcher = await sio_connect(server, bob.access_token, events=("presence",))

    tab1 = await sio_connect(server, alice.access_token)
    online = await wait_match(watcher, "presence", about(alice, "online"))
    assert online[0]["username"] == alice.username
    assert set(online[0]) >= {"userId", "username", "status", "lastSeen"}
    assert (await member(http, server, bob, rid, alice))["online"] is True

    # A second tab is not news.
    tab2 = await sio_connect(server, alice.access_token)
    await quiet(watcher, "presence", about(alice), wait=PRESENCE_QUIET_S)

    # Closing one of two tabs leaves alice online.
    await tab1.disconnect()
    await quiet(watcher, "presence", about(alice), wait=PRESENCE_QUIET_S)
    assert (await member(http, server, bob, rid, alice))["online"] is True
    assert len([e for e in watcher.recorder.events["presence"] if about(alice)(e)]) == 1

    # Closing the last one makes her offline, with the time she was last seen.
    await tab2.disconnect()
    offline = await wait_match(watcher, "presence", about(alice, "offline"))
    assert offline[0]["lastSeen"], offline
    seen = await member(http, server, bob, rid, alice)
    assert seen["online"] is False
    assert seen["lastSeen"] == offline[0]["lastSeen"]
    assert [e["status"] for e in watcher.recorder.events["presence"] if about(alice)(e)] == [
        "online",
        "offline",
    ]


async def test_presence_reaches_dm_partners(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    await post_dm(http, server, alice, bob, "hi")
    watcher = await sio_connect(server, bob.access_token, events=("presence",))
    a = await sio_connect(server, alice.access_token)
    await wait_match(watcher, "presence", about(alice, "online"))
    await a.disconnect()
    await wait_match(watcher, "presence", about(alice, "offline"))
    status, body = await api(http, server, "GET", "/api/direct-messages", bob)
    assert status == 200, body
    conv = body["conversations"][0]
    assert conv["user"]["id"] == alice.id
    assert conv["user"]["online"] is False
    assert conv["user"]["lastSeen"] is not None


async def test_presence_goes_only_to_small_shared_rooms(
    server, http, register, sio_connect, monkeypatch
):
    alice = await register(server)
    friend = await register(server)
    stranger = await register(server)
    await private_room_with(http, server, friend, alice)
    # Rooms above the cap (here: the lobby, with at least these three users) get no presence.
    monkeypatch.setattr(presence_module, "PRESENCE_MAX_ROOM_MEMBERS", 2)
    f = await sio_connect(server, friend.access_token, events=("presence",))
    s = await sio_connect(server, stranger.access_token, events=("presence",))
    await sio_connect(server, alice.access_token)
    await wait_match(f, "presence", about(alice, "online"))
    await quiet(s, "presence", about(alice), wait=PRESENCE_QUIET_S)
    assert [e for e in s.recorder.events["presence"] if about(alice)(e)] == []


async def test_two_instances_share_presence_through_redis(
    start_server, http, register, sio_connect
):
    """A user with a connection on each of two instances stays online until both close;
    the second instance's announcement reaches a watcher on the first.

    The registry's keys are shared with whatever else uses this Redis database; the users
    here are new, so their entries are theirs alone (and are removed as they disconnect).
    """
    one = await start_server(redis_url=REDIS_URL, instance_id="one")
    two = await start_server(redis_url=REDIS_URL, instance_id="two")
    alice = await register(one)
    bob = await register(one)
    room = await private_room_with(http, one, bob, alice)
    rid = room["id"]
    watcher = await sio_connect(one, bob.access_token, events=("presence",))

    on_one = await sio_connect(one, alice.access_token)
    on_two = await sio_connect(two, alice.access_token)
    await wait_match(watcher, "presence", about(alice, "online"))
    for server in (one, two):
        assert (await member(http, server, bob, rid, alice))["online"] is True

    await on_one.disconnect()
    await quiet(watcher, "presence", about(alice, "offline"), wait=PRESENCE_QUIET_S)
    for server in (one, two):
        assert (await member(http, server, bob, rid, alice))["online"] is True

    await on_two.disconnect()
    offline = await wait_match(watcher, "presence", about(alice, "offline"))
    assert offline[0]["lastSeen"]
    for server in (one, two):
        assert (await member(http, server, bob, rid, alice))["online"] is False
    assert len([e for e in watcher.recorder.events["presence"] if about(alice, "online")(e)]) == 1


async def test_refused_handshake_leaves_no_ghost_connection(
    server, http, register, sio_connect, monkeypatch
):
    """The database fails half-way through admitting a socket: the handshake is refused,
    and the user must not stay 'online' on a connection that never existed."""
    alice = await register(server)
    bob = await register(server)
    room = await private_room_with(http, server, bob, alice)
    services = server.app[SERVICES]

    async def database_down(user_id: str) -> Any:
        raise asyncpg.PostgresConnectionError("connection lost")

    monkeypatch.setattr(services.reads, "arrival", database_down)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await sio_connect(server, alice.access_token)
    monkeypatch.undo()

    assert await services.presence.online([alice.id]) == set()
    assert (await member(http, server, bob, room["id"], alice))["online"] is False
    # And a later, successful connection is a first connection again.
    watcher = await sio_connect(server, bob.access_token, events=("presence",))
    await sio_connect(server, alice.access_token)
    await wait_match(watcher, "presence", about(alice, "online"))


async def test_a_renamed_user_connects_under_the_current_name(server, http, register, sio_connect):
    """The access token still carries the old name after a rename (it lives 15 minutes);
    `authenticated` and presence say the stored one, which another account may otherwise
    take next (issue 14)."""
    alice = await register(server)
    bob = await register(server)
    await private_room_with(http, server, bob, alice)
    new_name = f"re_{alice.username}"[:50]
    status, body = await api(
        http, server, "PUT", "/api/users/me", alice, json={"username": new_name}
    )
    assert status == 200, body
    watcher = await sio_connect(server, bob.access_token, events=("presence",))
    tab = await sio_connect(server, alice.access_token, events=("authenticated",))
    greeting = await tab.recorder.wait_for("authenticated")
    assert greeting == [{"userId": alice.id, "username": new_name}]
    online = await wait_match(watcher, "presence", about(alice, "online"))
    assert online[0]["username"] == new_name
