"""Reactions over REST (docs/contract.md §12): PUT / DELETE
/api/rooms/:id/messages/:messageId/reactions/:emoji with the emoji percent-encoded.

Owns: what a reaction does to the message (counts, reactors, first-reaction order), that
both verbs are idempotent without using a change number, which strings are one emoji, the
per-message cap, and every refusal (non-member, blocked sender, tombstone) leaving the
message and the room's change counter as they were. Must not: test the socket events
(tests/realtime/test_reactions.py) or the concurrency (tests/realtime, same file).
"""

from __future__ import annotations

import uuid

import emoji as emoji_data

from tests.changes_helpers import (
    history_message,
    make_tombstone,
    react,
    reaction_path,
    room_change_seq,
)
from tests.chat_helpers import api, create_room, post_dm, post_message, private_room_with
from tests.conftest import LOBBY_ID

THUMBS = "\U0001f44d"
FAMILY = "\U0001f469\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"  # a ZWJ sequence
WAVE_DARK = "\U0001f44b\U0001f3ff"  # with a skin tone
FLAG_FR = "\U0001f1eb\U0001f1f7"
HEART_UNQUALIFIED = "\u2764"
HEART = "\u2764\ufe0f"
BLOCKED_MESSAGE = "This user does not accept your messages"


async def test_a_percent_encoded_emoji_adds_a_reaction_once(server, http, register):
    alice = await register(server)
    msg = await post_message(http, server, alice, LOBBY_ID, "react to me")
    assert reaction_path(LOBBY_ID, msg["id"], THUMBS).endswith("/reactions/%F0%9F%91%8D")
    before = await room_change_seq(http, server, alice, LOBBY_ID)

    status, body = await react(http, server, alice, msg, THUMBS)
    assert status == 200, body
    reacted = body["message"]
    assert reacted["reactions"] == [{"emoji": THUMBS, "count": 1, "userIds": [alice.id]}]
    assert reacted["changeSeq"] == before + 1
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before + 1

    # Again: nothing changes, no change number is used, the current message is answered.
    status, body = await react(http, server, alice, msg, THUMBS)
    assert status == 200, body
    assert body["message"] == reacted
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before + 1
    # History shows the current state.
    assert (await history_message(http, server, alice, msg))["reactions"] == reacted["reactions"]


async def test_zwj_sequences_skin_tones_and_flags_are_one_emoji_each(server, http, register):
    alice = await register(server)
    bob = await register(server)
    msg = await post_message(http, server, alice, LOBBY_ID, "family news")

    for who, emoji in ((alice, FAMILY), (bob, WAVE_DARK), (alice, FLAG_FR), (bob, FAMILY)):
        status, body = await react(http, server, who, msg, emoji)
        assert status == 200, body

    # First-reaction order; counts and reactors per emoji.
    assert body["message"]["reactions"] == [
        {"emoji": FAMILY, "count": 2, "userIds": [alice.id, bob.id]},
        {"emoji": WAVE_DARK, "count": 1, "userIds": [bob.id]},
        {"emoji": FLAG_FR, "count": 1, "userIds": [alice.id]},
    ]


async def test_remove_is_idempotent_and_drops_an_emoji_nobody_uses(server, http, register):
    alice = await register(server)
    bob = await register(server)
    msg = await post_message(http, server, alice, LOBBY_ID, "hi")
    await react(http, server, alice, msg, THUMBS)
    await react(http, server, bob, msg, THUMBS)

    status, body = await react(http, server, alice, msg, THUMBS, "DELETE")
    assert status == 200, body
    assert body["message"]["reactions"] == [{"emoji": THUMBS, "count": 1, "userIds": [bob.id]}]
    seq = await room_change_seq(http, server, alice, LOBBY_ID)

    status, again = await react(http, server, alice, msg, THUMBS, "DELETE")
    assert status == 200, again
    assert again["message"] == body["message"]
    assert await room_change_seq(http, server, alice, LOBBY_ID) == seq

    status, body = await react(http, server, bob, msg, THUMBS, "DELETE")
    assert status == 200, body
    assert body["message"]["reactions"] == []


async def test_an_unqualified_emoji_is_the_same_reaction_as_its_qualified_form(
    server, http, register
):
    alice = await register(server)
    bob = await register(server)
    msg = await post_message(http, server, alice, LOBBY_ID, "love")
    await react(http, server, alice, msg, HEART_UNQUALIFIED)
    status, body = await react(http, server, bob, msg, HEART)
    assert status == 200, body
    assert body["message"]["reactions"] == [
        {"emoji": HEART, "count": 2, "userIds": [alice.id, bob.id]}
    ]
    status, body = await react(http, server, alice, msg, HEART, "DELETE")
    assert body["message"]["reactions"] == [{"emoji": HEART, "count": 1, "userIds": [bob.id]}]


async def test_what_is_not_exactly_one_emoji_is_refused(server, http, register):
    alice = await register(server)
    msg = await post_message(http, server, alice, LOBBY_ID, "hi")
    before = await room_change_seq(http, server, alice, LOBBY_ID)
    for bad in ("a", THUMBS + THUMBS, "\U0001f3fd", ":+1:", "#", "\u200d", THUMBS + " "):
        status, body = await react(http, server, alice, msg, bad)
        assert status == 400, (bad, body)
        assert body["error"]["code"] == "validation_error", body
        assert "emoji" in body["error"]["fields"], body
    assert (await history_message(http, server, alice, msg))["reactions"] == []
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before


async def test_a_message_carries_at_most_50_different_emoji(server, http, register):
    alice = await register(server)
    bob = await register(server)
    msg = await post_message(http, server, alice, LOBBY_ID, "pick one")
    singles = sorted(
        e
        for e, data in emoji_data.EMOJI_DATA.items()
        if len(e) == 1 and data["status"] == emoji_data.STATUS["fully_qualified"]
    )[:51]
    for emoji in singles[:50]:
        status, body = await react(http, server, alice, msg, emoji)
        assert status == 200, (emoji, body)
    before = await room_change_seq(http, server, alice, LOBBY_ID)

    status, body = await react(http, server, bob, msg, singles[50])
    assert status == 409, body
    assert body["error"]["code"] == "conflict", body
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before
    # An emoji the message already carries still counts another reactor.
    status, body = await react(http, server, bob, msg, singles[0])
    assert status == 200, body
    reactions = body["message"]["reactions"]
    assert len(reactions) == 50
    assert reactions[0] == {"emoji": singles[0], "count": 2, "userIds": [alice.id, bob.id]}


async def test_non_members_cannot_react_and_nothing_changes(server, http, register):
    owner = await register(server)
    outsider = await register(server)
    private = await private_room_with(http, server, owner)
    secret = await post_message(http, server, owner, private["id"], "members only")
    public = await create_room(http, server, owner)
    notice = await post_message(http, server, owner, public["id"], "public but not joined")

    status, body = await react(http, server, outsider, secret, THUMBS)
    assert status == 404, body
    status, body = await react(http, server, outsider, secret, THUMBS, "DELETE")
    assert status == 404, body
    status, body = await react(http, server, outsider, notice, THUMBS)
    assert status == 403, body
    assert body["error"]["message"] == "Join the room first", body

    assert (await history_message(http, server, owner, secret))["reactions"] == []
    assert (await history_message(http, server, owner, notice))["reactions"] == []
    assert await room_change_seq(http, server, owner, private["id"]) == 0
    assert await room_change_seq(http, server, owner, public["id"]) == 0


async def test_a_blocked_user_cannot_react_in_the_blockers_dm(server, http, register):
    alice = await register(server)
    bob = await register(server)
    dm = await post_dm(http, server, bob, alice, "hello alice")
    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body

    status, body = await react(http, server, alice, dm, THUMBS)
    assert status == 403, body
    assert body["error"] == {"code": "forbidden", "message": BLOCKED_MESSAGE}, body
    assert await room_change_seq(http, server, bob, dm["roomId"]) == 0
    # The blocker still may (a block is one way).
    status, body = await react(http, server, bob, dm, THUMBS)
    assert status == 200, body
    assert body["message"]["reactions"][0]["userIds"] == [bob.id]


async def test_a_deleted_message_takes_no_reactions(server, http, register):
    alice = await register(server)
    msg = await post_message(http, server, alice, LOBBY_ID, "soon gone")
    await make_tombstone(http, server, alice, msg)
    before = await room_change_seq(http, server, alice, LOBBY_ID)

    status, body = await react(http, server, alice, msg, THUMBS)
    assert status == 409, body
    assert body["error"]["message"] == "This message was deleted", body
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before


async def test_a_message_of_another_room_or_none_is_not_found(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    elsewhere = await post_message(http, server, alice, room["id"], "in my room")
    status, body = await api(
        http, server, "PUT", reaction_path(LOBBY_ID, elsewhere["id"], THUMBS), alice
    )
    assert status == 404, body
    assert await room_change_seq(http, server, alice, room["id"]) == 0
    # No such message at all, in a room alice may post in: 404 too, never a 500.
    for method in ("PUT", "DELETE"):
        status, body = await api(
            http, server, method, reaction_path(room["id"], str(uuid.uuid4()), THUMBS), alice
        )
        assert status == 404 and body["error"]["code"] == "not_found", (method, body)
    assert await room_change_seq(http, server, alice, room["id"]) == 0
