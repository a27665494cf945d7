"""A block holds on every REST path into a direct conversation (issue 14 item 1): posting
into the DM's room id, file shares, the DM endpoint itself; the blocker's history and
conversation list show nothing sent after the block; invitations from a blocked user are
refused; unblocking restores everything. Plus the current (not the token's) username in
what a renamed user's actions announce (issue 14 item 13)."""

from __future__ import annotations

from tests.api.test_uploads import upload_ok
from tests.chat_helpers import api, create_room, post_dm
from tests.conftest import unique_name
from tests.uploads_helpers import plain_png

BLOCKED_MESSAGE = "This user does not accept your messages"


async def _blocked_pair(server, http, register):
    """alice and bob with a conversation (one message from alice), then bob blocks alice."""
    alice = await register(server)
    bob = await register(server)
    first = await post_dm(http, server, alice, bob, "before the block")
    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    return alice, bob, first["roomId"]


def _assert_blocked(status, body) -> None:
    assert status == 403, body
    assert body["error"]["code"] == "forbidden", body
    assert body["error"]["message"] == BLOCKED_MESSAGE, body


async def _contents(http, server, reader, other) -> list[str]:
    status, page = await api(http, server, "GET", f"/api/direct-messages/{other.id}", reader)
    assert status == 200, page
    return [m["content"] for m in page["messages"]]


async def test_posting_into_the_dm_room_by_id_is_refused_after_a_block(server, http, register):
    alice, bob, rid = await _blocked_pair(server, http, register)

    status, body = await api(
        http, server, "POST", f"/api/rooms/{rid}/messages", alice, json={"content": "sneaky"}
    )
    _assert_blocked(status, body)
    # A retry with a clientMsgId is refused just the same (no idempotent shortcut).
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{rid}/messages",
        alice,
        json={"content": "sneaky", "clientMsgId": "sneak-1"},
    )
    _assert_blocked(status, body)

    # Nothing was stored: the blocker's history, room history and conversation list show
    # only what came before the block.
    assert await _contents(http, server, bob, alice) == ["before the block"]
    status, page = await api(http, server, "GET", f"/api/rooms/{rid}/messages", bob)
    assert status == 200, page
    assert [m["content"] for m in page["messages"]] == ["before the block"]
    assert page["lastSeq"] == 1
    status, body = await api(http, server, "GET", "/api/direct-messages", bob)
    assert status == 200, body
    (conv,) = body["conversations"]
    assert conv["lastMessage"]["content"] == "before the block"
    assert conv["lastSeq"] == 1
    assert conv["unreadCount"] == 1

    # The blocker may still write into the conversation (a block is one way).
    status, body = await api(
        http, server, "POST", f"/api/rooms/{rid}/messages", bob, json={"content": "bye"}
    )
    assert status == 201, body


async def test_file_shares_into_a_blocked_dm_are_refused(server, http, register):
    alice, bob, rid = await _blocked_pair(server, http, register)
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())
    share = {"fileId": pic["id"], "messageType": "image", "content": "look"}

    status, body = await api(http, server, "POST", f"/api/rooms/{rid}/messages", alice, json=share)
    _assert_blocked(status, body)
    status, body = await api(
        http, server, "POST", f"/api/direct-messages/{bob.id}", alice, json=share
    )
    _assert_blocked(status, body)

    assert await _contents(http, server, bob, alice) == ["before the block"]
    # The file was never shared with bob.
    async with http.get(f"{server.url}{pic['url']}", headers=bob.headers) as resp:
        assert resp.status == 404


async def test_unblocking_restores_posting_into_the_dm_room(server, http, register):
    alice, bob, rid = await _blocked_pair(server, http, register)
    status, body = await api(
        http, server, "POST", f"/api/rooms/{rid}/messages", alice, json={"content": "refused"}
    )
    _assert_blocked(status, body)

    status, body = await api(http, server, "DELETE", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    status, body = await api(
        http, server, "POST", f"/api/rooms/{rid}/messages", alice, json={"content": "again"}
    )
    assert status == 201, body
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{rid}/messages",
        alice,
        json={"fileId": pic["id"], "messageType": "image"},
    )
    assert status == 201, body
    # No gap in seq: the refused message took no place in the conversation.
    status, page = await api(http, server, "GET", f"/api/direct-messages/{alice.id}", bob)
    assert status == 200, page
    assert [(m["seq"], m["content"]) for m in page["messages"]] == [
        (1, "before the block"),
        (2, "again"),
        (3, ""),
    ]


async def test_an_invitation_from_a_blocked_user_is_refused(server, http, register):
    alice = await register(server)
    bob = await register(server)
    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    room = await create_room(http, server, alice, private=True)

    status, body = await api(
        http, server, "POST", f"/api/rooms/{room['id']}/invites", alice, json={"userId": bob.id}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden", body
    assert body["error"]["message"] == "This user does not accept your invitations", body
    # Nothing was stored: bob has no invitation and cannot see or join the room.
    status, body = await api(http, server, "GET", "/api/invites", bob)
    assert status == 200, body
    assert body["invites"] == []
    status, body = await api(http, server, "POST", f"/api/rooms/{room['id']}/join", bob)
    assert status == 404, body

    status, body = await api(http, server, "DELETE", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    status, body = await api(
        http, server, "POST", f"/api/rooms/{room['id']}/invites", alice, json={"userId": bob.id}
    )
    assert status == 201, body


async def test_invitations_and_joins_carry_the_current_username(server, http, register):
    """The access token still says the old name; events and answers use the stored one."""
    alice = await register(server)
    bob = await register(server)
    new_name = unique_name("renamed")
    status, body = await api(
        http, server, "PUT", "/api/users/me", alice, json={"username": new_name}
    )
    assert status == 200, body
    room = await create_room(http, server, alice, private=True)

    status, body = await api(
        http, server, "POST", f"/api/rooms/{room['id']}/invites", alice, json={"userId": bob.id}
    )
    assert status == 201, body
    assert body["invitedBy"] == {"id": alice.id, "username": new_name}


async def test_blocking_withdraws_the_blocked_users_pending_invitations(server, http, register):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    from_alice = await create_room(http, server, alice, private=True)
    from_carol = await create_room(http, server, carol, private=True)
    for owner, room in ((alice, from_alice), (carol, from_carol)):
        status, body = await api(
            http, server, "POST", f"/api/rooms/{room['id']}/invites", owner, json={"userId": bob.id}
        )
        assert status == 201, body

    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body

    status, body = await api(http, server, "GET", "/api/invites", bob)
    assert status == 200, body
    assert [i["room"]["id"] for i in body["invites"]] == [from_carol["id"]]
    status, body = await api(http, server, "POST", f"/api/rooms/{from_alice['id']}/join", bob)
    assert status == 404, body
