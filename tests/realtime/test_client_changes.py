"""The Python client's message changes against real servers (docs/contract.md §12): edit,
delete, react/unreact, reply and pin round trips, refusals, and the `updates()` stream
delivering every change exactly once, per room in changeSeq order, live, after a gap and
after a disconnect, ending with local copies equal to the server's."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest

from chat_server.client import ChatClient, ChatClientError, MessageUpdate
from tests.conftest import PASSWORD, unique_name
from tests.realtime.client_support import (
    CRASH,
    FAST,
    WAIT_S,
    next_messages,
    same_port,
    wait_until,
)

Message = dict[str, Any]


async def next_updates(client: ChatClient, count: int) -> list[MessageUpdate]:
    async with asyncio.timeout(WAIT_S):
        return [await client.next_update() for _ in range(count)]


async def room_state(client: ChatClient, room_id: str) -> dict[str, Any]:
    """The room's summary over REST (lastSeq, changeSeq)."""
    return dict(await client._rest.call("GET", f"/api/rooms/{room_id}"))


async def all_history(client: ChatClient, room_id: str) -> dict[str, Message]:
    """Every message of a room in its current state, by id, from the server."""
    out: dict[str, Message] = {}
    after = 0
    while True:
        page = await client.history(room_id, after=after, limit=100)
        for message in page["messages"]:
            out[message["id"]] = message
            after = max(after, message["seq"])
        if not page["hasMore"] or not page["messages"]:
            return out


async def change_feed(client: ChatClient, room_id: str, after: int) -> list[Message]:
    """GET /api/rooms/:id/changes?after=, every page."""
    out: list[Message] = []
    while True:
        page = await client._rest.call(
            "GET", f"/api/rooms/{room_id}/changes", params={"after": str(after)}
        )
        out.extend(page["messages"])
        if not page["hasMore"] or not page["messages"]:
            return out
        after = page["messages"][-1]["changeSeq"]


@pytest.fixture
async def login_again():
    """Log the user of a client in again (its own session) on a server; closed at teardown
    (before the servers, whose shutdown would otherwise wait for their sockets)."""
    made: list[ChatClient] = []

    async def login(server, client: ChatClient) -> ChatClient:
        other = await ChatClient.login(server.url, client.username, PASSWORD, **FAST)
        made.append(other)
        await other.connect()
        return other

    yield login
    for client in made:
        await client.close()


async def room_with(owner: ChatClient, *members: ChatClient) -> str:
    room = await owner.create_room(unique_name("changes"))
    for member in members:
        await member.join_room(room["id"])
    return str(room["id"])


async def test_each_change_round_trips_and_reaches_both_streams_once(server, new_client):
    alice = await new_client(server)
    bob = await new_client(server)
    room = await room_with(alice, bob)
    root = await alice.send(room, "teh root")
    other = await bob.send(room, "bob's line")
    assert [m["id"] for m in await next_messages(bob, 2)] == [root["id"], other["id"]]

    edited = await alice.edit(room, root["id"], "the root")
    reacted = await bob.react(room, root["id"], "👍")
    again = await bob.react(room, root["id"], "👍")  # idempotent: no change
    pinned = await alice.pin(room, root["id"])
    reply = await bob.reply(root["id"], "an answer", room_id=room)
    unreacted = await bob.unreact(room, root["id"], "👍")
    unpinned = await bob.unpin(room, root["id"])
    deleted = await bob.delete(room, other["id"])
    deleted_again = await bob.delete(room, other["id"])  # the tombstone again

    assert edited["content"] == "the root" and edited["editedAt"]
    assert reacted["reactions"] == [{"emoji": "👍", "count": 1, "userIds": [bob.user_id]}]
    assert again["reactions"] == reacted["reactions"]
    assert again["changeSeq"] == reacted["changeSeq"]
    assert pinned["pinned"] is True
    assert reply["threadId"] == root["id"] and reply["content"] == "an answer"
    assert unreacted["reactions"] == [] and unpinned["pinned"] is False
    assert deleted["deletedAt"] and deleted["content"] == ""
    assert deleted_again == deleted
    changes = [edited, reacted, pinned, unreacted, unpinned, deleted]
    seqs = [m["changeSeq"] for m in changes]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

    # The reply is a message like any other; the root's reply count is a change too. Both
    # users get every change once, in changeSeq order (their own too: ack and live event
    # count once), and the latest state of the root is the server's.
    assert [m["id"] for m in await next_messages(alice, 3)] == [
        root["id"],
        other["id"],
        reply["id"],
    ]
    for client in (alice, bob):
        got = await next_updates(client, 7)
        assert [u.room_id for u in got] == [room] * 7
        assert [u.change_seq for u in got] == list(range(seqs[0], seqs[0] + 7))
        by_id = {u.message_id: u.message for u in got}
        history = await all_history(client, room)
        assert by_id[root["id"]] == history[root["id"]]
        assert by_id[other["id"]] == history[other["id"]] == deleted
        assert history[root["id"]]["thread"]["replyCount"] == 1
        assert client.last_change_seq[room] == seqs[0] + 6
    # No duplicate is waiting: the next change is the next update of both.
    marker = await alice.edit(room, root["id"], "the root, once more")
    for client in (alice, bob):
        assert await next_updates(client, 1) == [MessageUpdate(room, seqs[0] + 7, marker)]
    assert (await alice.thread(room, root["id"]))["messages"] == [reply]
    assert [v["content"] for v in (await alice.edit_history(room, root["id"]))["edits"]] == [
        "teh root",
        "the root",
    ]


async def test_refused_changes_raise_and_change_nothing(server, new_client):
    alice = await new_client(server)
    bob = await new_client(server)
    stranger = await new_client(server)
    room = await room_with(alice, bob)
    mine = await alice.send(room, "alice's words")
    start = alice.last_change_seq[room]

    refusals = [
        bob.edit(room, mine["id"], "bob's words"),  # not the author
        stranger.react(room, mine["id"], "👍"),  # not a member
        stranger.pin(room, mine["id"]),
        bob.edit(room, mine["id"], ""),  # and invalid anyway
    ]
    for refused in refusals:
        try:
            await refused
        except ChatClientError as exc:
            assert exc.code in {"forbidden", "not_found", "validation_error"}, exc
        else:
            raise AssertionError("a change that must be refused was accepted")

    assert (await all_history(alice, room))[mine["id"]] == mine
    marker = await alice.edit(room, mine["id"], "alice's own edit")
    # Nothing was announced before the one accepted change.
    assert await next_updates(bob, 1) == [MessageUpdate(room, start + 1, marker)]


class Observer:
    """Alice's view built only from her client's streams: messages by id, replaced by any
    newer state (higher changeSeq), and the updates in the order they came."""

    def __init__(self, client: ChatClient):
        self.client = client
        self.copies: dict[str, Message] = {}
        self.updates: list[MessageUpdate] = []

    def _keep(self, message: Message) -> None:
        current = self.copies.get(message["id"])
        if current is None or message["changeSeq"] >= current["changeSeq"]:
            self.copies[message["id"]] = message

    async def catch_up(self, rooms: list[str]) -> None:
        """Take what the client delivers until every room is where the server is."""
        targets = {room: await room_state(self.client, room) for room in rooms}

        def caught_up() -> bool:
            seqs, changes = self.client.last_seq, self.client.last_change_seq
            return all(
                seqs.get(room, -1) >= t["lastSeq"] and changes.get(room, -1) >= t["changeSeq"]
                for room, t in targets.items()
            )

        async with asyncio.timeout(WAIT_S * 2):
            while True:
                self.drain()
                if caught_up():
                    break
                await asyncio.sleep(0.02)
        self.drain()

    def drain(self) -> None:
        while not self.client.messages.empty():
            self._keep(self.client.messages.get_nowait())
        while not self.client.updates_queue.empty():
            update = self.client.updates_queue.get_nowait()
            self.updates.append(update)
            self._keep(update.message)


async def test_changes_made_while_away_arrive_once_in_order_and_copies_match(
    start_server, make_config, new_client, login_again
):
    """Alice's instance goes down; bob and carol make 50+ changes across 3 rooms on another
    instance (edits, repeated edits, deletes, reactions on and off, replies, pins,
    no-ops). Before, changes came live and through a gap fill; after her reconnect she
    gets each change once, per room in changeSeq order, and her copies are the server's."""
    first = await start_server(**CRASH)
    other = await start_server(make_config())  # no Redis: emits stay on their instance
    alice = await new_client(first)
    bob = await new_client(first)
    carol = await new_client(first)
    rooms = [await room_with(alice, bob, carol) for _ in range(3)]
    seen = Observer(alice)

    # Seeds and live changes, all on alice's instance.
    posts: dict[str, dict[str, list[Message]]] = {}
    for room in rooms:
        posts[room] = {
            "alice": [await alice.send(room, f"alice {i}") for i in range(2)],
            "bob": [await bob.send(room, f"bob {i}") for i in range(4)],
            "carol": [await carol.send(room, f"carol {i}") for i in range(4)],
        }
        await bob.edit(room, posts[room]["bob"][0]["id"], "bob 0, edited live")
        await carol.react(room, posts[room]["bob"][0]["id"], "🎉")
        await alice.pin(room, posts[room]["carol"][0]["id"])
        await alice.edit(room, posts[room]["alice"][0]["id"], "alice 0, edited live")
        await bob.reply(posts[room]["alice"][1]["id"], "a live reply", room_id=room)
    await seen.catch_up(rooms)

    # A gap while connected: a change on the other instance is not seen live; the next
    # one alice sees skips a number, and her client fetches the missing one.
    bob_away = await login_again(other, bob)
    carol_away = await login_again(other, carol)
    await bob_away.edit(rooms[0], posts[rooms[0]]["bob"][1]["id"], "bob 1, unseen live")
    await carol.react(rooms[0], posts[rooms[0]]["carol"][1]["id"], "👀")
    await seen.catch_up(rooms)
    assert seen.updates[-1].message["reactions"][0]["emoji"] == "👀"
    assert seen.updates[-2].message["content"] == "bob 1, unseen live"
    assert alice.stats.change_gaps_detected >= 1
    before_outage = dict(alice.last_change_seq)

    # The outage: alice's instance dies; the others act on the other instance.
    await first.close()
    await wait_until(lambda: not alice.connected, "alice noticed the server is gone")
    queued = asyncio.ensure_future(
        alice.reply(posts[rooms[1]]["bob"][3]["id"], "written while away", room_id=rooms[1])
    )
    made: list[Message] = []
    emoji = itertools.cycle(["👍", "❤️", "😂", "🎉"])
    for room in rooms:
        b, c = posts[room]["bob"], posts[room]["carol"]
        for version in range(3):  # one message edited three times: collapses to one
            made.append(await bob_away.edit(room, b[2]["id"], f"bob 2, v{version}"))
        for message in (*b, *c):
            made.append(await carol_away.react(room, message["id"], next(emoji)))
        made.append(await bob_away.react(room, c[2]["id"], "👍"))
        made.append(await bob_away.react(room, c[2]["id"], "👍"))  # no-op
        made.append(await bob_away.unreact(room, b[0]["id"], "🎉"))  # not his: no-op
        made.append(await carol_away.unreact(room, b[0]["id"], "🎉"))
        made.append(await carol_away.reply(c[3]["id"], "reply in the dark", room_id=room))
        made.append(await bob_away.reply(c[3]["id"], "another", room_id=room))
        made.append(await bob_away.pin(room, b[3]["id"]))
        made.append(await carol_away.unpin(room, c[0]["id"]))
        made.append(await carol_away.delete(room, c[1]["id"]))
        made.append(await carol_away.delete(room, c[1]["id"]))  # the tombstone again
        made.append(await bob_away.edit(room, b[3]["id"], "bob 3, pinned and edited"))
    # Each reply changes its root (reply count); the other answers are the changed messages.
    replies = [m for m in made if "threadId" in m]
    changes = {(m["roomId"], m["changeSeq"]) for m in made if "threadId" not in m}
    assert len(changes) + len(replies) >= 50, len(changes)

    # Alice comes back: her queued reply goes out, and she recovers everything.
    await start_server(same_port(make_config, first))
    async with asyncio.timeout(WAIT_S):
        await alice.wait_connected()
        sent = await queued
    assert sent["threadId"] == posts[rooms[1]]["bob"][3]["id"]
    await seen.catch_up(rooms)

    # Each change once, per room in changeSeq order, across live, gap fill and recovery.
    for room in rooms:
        got = [u.change_seq for u in seen.updates if u.room_id == room]
        assert got == sorted(set(got)), got
        # Recovery skipped nothing the change feed holds (collapsed: each changed message
        # once, at its latest change).
        feed = await change_feed(alice, room, before_outage[room])
        assert {m["changeSeq"] for m in feed} <= set(got)
        recovered = [u for u in seen.updates if u.room_id == room]
        assert {u.message_id for u in recovered if u.change_seq > before_outage[room]} == {
            m["id"] for m in feed
        }
        # The collapsed edit arrives once, in its final version.
        edits = [u for u in recovered if u.message_id == posts[room]["bob"][2]["id"]]
        assert [u.message["content"] for u in edits] == ["bob 2, v2"]
        # Her copies are exactly the server's current messages.
        assert {k: v for k, v in seen.copies.items() if v["roomId"] == room} == (
            await all_history(alice, room)
        )

    # Nothing more is pending: the next change in each room (made on her instance) is the
    # next one she gets.
    async with asyncio.timeout(WAIT_S):
        await bob.wait_connected()
    markers = [await bob.edit(room, posts[room]["bob"][0]["id"], "last") for room in rooms]
    got = await next_updates(alice, 3)
    assert sorted(((u.room_id, u.change_seq, u.message) for u in got), key=str) == sorted(
        ((m["roomId"], m["changeSeq"], m) for m in markers), key=str
    )
    assert all(m["changeSeq"] == alice.last_change_seq[m["roomId"]] for m in markers)


async def test_a_resumed_client_gets_the_changes_after_its_change_seq(server, new_client):
    alice = await new_client(server)
    room = await room_with(alice)
    message = await alice.send(room, "v0")
    edits = [await alice.edit(room, message["id"], f"v{i}") for i in range(1, 4)]
    resumed = await new_client(
        server,
        connect=False,
        since={room: message["seq"]},
        changes_since={room: edits[0]["changeSeq"]},
    )
    # The resumed client is another user: make it a member before it connects.
    await resumed._rest.join_room(room)

    await resumed.connect()

    got = await next_updates(resumed, 1)  # edits 2 and 3 collapse into the latest state
    assert got == [MessageUpdate(room, edits[-1]["changeSeq"], edits[-1])]
    assert resumed.last_change_seq[room] == edits[-1]["changeSeq"]
