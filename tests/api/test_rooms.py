"""REST rooms: create, list (pagination, search, counts), details, join, leave, members,
invites, and the isolation of private rooms (docs/contract.md §5, issue 3)."""

from __future__ import annotations

import asyncio
import uuid

from tests.chat_helpers import (
    api,
    create_room,
    invite,
    join,
    post_message,
    private_room_with,
    room_entry,
    wait_match,
)
from tests.conftest import LOBBY_ID, unique_name


def _not_found(status: int, body: dict) -> None:
    assert status == 404, body
    assert body["error"]["code"] == "not_found", body


async def test_create_public_room_and_read_details(server, http, register):
    owner = await register(server)
    other = await register(server)
    name = unique_name("Public")
    room = await create_room(http, server, owner, name, description="About things")
    assert room["name"] == name
    assert room["description"] == "About things"
    assert room["isPrivate"] is False
    assert room["kind"] == "public"
    assert room["createdBy"] == owner.id
    assert room["role"] == "owner"
    assert room["isMember"] is True
    assert room["memberCount"] == 1
    assert room["lastSeq"] == 0
    assert room["unreadCount"] == 0
    uuid.UUID(room["id"])

    status, seen = await api(http, server, "GET", f"/api/rooms/{room['id']}", other)
    assert status == 200, seen
    assert seen["id"] == room["id"]
    assert seen["isMember"] is False
    assert seen["isInvited"] is False
    assert seen["role"] is None
    assert seen["memberCount"] == 1


async def test_public_names_unique_case_insensitively_private_names_may_repeat(
    server, http, register
):
    owner = await register(server)
    other = await register(server)
    name = unique_name("Dup")
    await create_room(http, server, owner, name)
    for taken in (name.upper(), name.lower(), name):
        status, body = await api(http, server, "POST", "/api/rooms", other, json={"name": taken})
        assert status == 409, body
        assert body["error"]["code"] == "conflict"
    status, body = await api(http, server, "POST", "/api/rooms", other, json={"name": "LOBBY"})
    assert status == 409, body

    # Private rooms may share a name with a public room and with each other: refusing one
    # would reveal that a private room of that name exists.
    first = await create_room(http, server, owner, name, private=True)
    second = await create_room(http, server, other, name.lower(), private=True)
    assert first["id"] != second["id"]
    assert first["isPrivate"] is True and first["kind"] == "private"


async def test_create_room_bad_input(server, http, register):
    user = await register(server)
    bad_bodies = [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 101},
        {"name": "two\nlines"},
        {"name": "nul\x00"},
        {"name": 42},
        {"name": "ok", "isPrivate": "yes"},
        {"name": "ok", "isPrivate": 1},
        {"name": "ok", "description": "d" * 1001},
        {"name": "ok", "unknownField": 1},
        [],
        "room",
    ]
    for body in bad_bodies:
        status, resp = await api(http, server, "POST", "/api/rooms", user, json=body)
        assert status == 400, (body, resp)
        assert resp["error"]["code"] == "validation_error", (body, resp)
    async with http.post(
        f"{server.url}/api/rooms", data=b"{not json", headers=user.headers
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "validation_error"
    status, resp = await api(http, server, "POST", "/api/rooms", json={"name": "anon"})
    assert status == 401, resp
    status, resp = await api(http, server, "GET", "/api/rooms")
    assert status == 401, resp


async def test_unknown_and_malformed_room_ids(server, http, register):
    user = await register(server)
    missing = str(uuid.uuid4())
    for method, path, body in [
        ("GET", f"/api/rooms/{missing}", None),
        ("POST", f"/api/rooms/{missing}/join", None),
        ("DELETE", f"/api/rooms/{missing}/leave", None),
        ("GET", f"/api/rooms/{missing}/members", None),
        ("GET", f"/api/rooms/{missing}/messages", None),
        ("GET", f"/api/rooms/{missing}/reads", None),
        ("POST", f"/api/rooms/{missing}/messages", {"content": "hi"}),
        ("POST", f"/api/rooms/{missing}/invites", {"userId": user.id}),
    ]:
        status, resp = await api(http, server, method, path, user, json=body)
        assert status == 404, (method, path, resp)
        assert resp["error"]["code"] == "not_found", (method, path, resp)
    status, resp = await api(http, server, "GET", "/api/rooms/not-a-uuid", user)
    assert status in (400, 404), resp
    assert resp["error"]["code"] in ("validation_error", "not_found")


async def test_private_room_is_invisible_to_non_members(server, http, register):
    owner = await register(server)
    outsider = await register(server)
    name = unique_name("secret")
    room = await create_room(http, server, owner, name, private=True)
    rid = room["id"]
    await post_message(http, server, owner, rid, "for members only")

    # Not listed, not even by name.
    assert await room_entry(http, server, outsider, rid) is None
    status, listing = await api(
        http, server, "GET", "/api/rooms", outsider, params={"search": name}
    )
    assert status == 200 and listing["rooms"] == [], listing
    # The owner does see it.
    assert (await room_entry(http, server, owner, rid)) is not None

    # Every route answers exactly as for a room that does not exist.
    missing = str(uuid.uuid4())
    for method, suffix, body in [
        ("GET", "", None),
        ("GET", "/messages", None),
        ("POST", "/messages", {"content": "let me in"}),
        ("POST", "/join", None),
        ("GET", "/members", None),
        ("GET", "/reads", None),
        ("DELETE", "/leave", None),
        ("POST", "/invites", {"userId": outsider.id}),
    ]:
        status, resp = await api(
            http, server, method, f"/api/rooms/{rid}{suffix}", outsider, json=body
        )
        _not_found(status, resp)
        status2, resp2 = await api(
            http, server, method, f"/api/rooms/{missing}{suffix}", outsider, json=body
        )
        assert (status, resp["error"]["message"]) == (status2, resp2["error"]["message"]), suffix

    # Nothing changed: still one member, one message, the outsider's post was not stored.
    status, details = await api(http, server, "GET", f"/api/rooms/{rid}", owner)
    assert status == 200
    assert details["memberCount"] == 1
    assert details["lastSeq"] == 1
    status, invites = await api(http, server, "GET", "/api/invites", outsider)
    assert status == 200 and invites["invites"] == []


async def test_invite_flow(server, http, register, sio_connect):
    owner = await register(server)
    member = await register(server)
    invitee = await register(server)
    third = await register(server)
    room = await private_room_with(http, server, owner, member)
    rid = room["id"]
    invitee_socket = await sio_connect(server, invitee.access_token, events=("room_invite",))

    # Only owners and admins invite: a plain member is refused (and it is not a 404: the
    # member knows the room exists).
    status, body = await api(
        http, server, "POST", f"/api/rooms/{rid}/invites", member, json={"userId": third.id}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"

    result = await invite(http, server, owner, rid, invitee)
    assert result["room"]["id"] == rid
    assert result["invitedBy"] == {"id": owner.id, "username": owner.username}

    # The invitee is told in real time...
    events = await wait_match(invitee_socket, "room_invite", lambda e: e["room"]["id"] == rid)
    assert events[0]["invitedBy"]["id"] == owner.id
    assert events[0]["room"]["name"] == room["name"]
    # ...sees the invitation...
    status, body = await api(http, server, "GET", "/api/invites", invitee)
    assert status == 200, body
    assert [i["room"]["id"] for i in body["invites"]] == [rid]
    assert body["invites"][0]["invitedBy"] == {"id": owner.id, "username": owner.username}
    assert body["invites"][0]["invitedAt"]
    # ...and the room, marked as an invitation, in the list and in details.
    entry = await room_entry(http, server, invitee, rid)
    assert entry is not None
    assert entry["isInvited"] is True and entry["isMember"] is False
    status, details = await api(http, server, "GET", f"/api/rooms/{rid}", invitee)
    assert status == 200 and details["isInvited"] is True, details
    # Not a member yet: may see who is in the room, but neither read nor post.
    status, body = await api(http, server, "GET", f"/api/rooms/{rid}/members", invitee)
    assert status == 200, body
    status, body = await api(http, server, "GET", f"/api/rooms/{rid}/messages", invitee)
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    status, body = await api(
        http, server, "POST", f"/api/rooms/{rid}/messages", invitee, json={"content": "hi"}
    )
    assert status == 403, body

    joined = await join(http, server, invitee, rid)
    assert joined["isMember"] is True
    assert joined["memberCount"] == 3
    await post_message(http, server, invitee, rid, "thanks for the invite")
    status, body = await api(http, server, "GET", f"/api/rooms/{rid}/messages", invitee)
    assert status == 200, body
    assert body["messages"][-1]["content"] == "thanks for the invite"

    # The invitation is used up.
    status, body = await api(http, server, "GET", "/api/invites", invitee)
    assert status == 200, body
    assert body["invites"] == []
    entry = await room_entry(http, server, invitee, rid)
    assert entry is not None and entry["isMember"] is True and entry["isInvited"] is False
    # Once left, the room is private again for them: no second join on the old invite.
    status, _ = await api(http, server, "DELETE", f"/api/rooms/{rid}/leave", invitee)
    assert status == 204
    status, body = await api(http, server, "POST", f"/api/rooms/{rid}/join", invitee)
    _not_found(status, body)
    assert await room_entry(http, server, invitee, rid) is None


async def test_invite_bad_input(server, http, register):
    owner = await register(server)
    member = await register(server)
    room = await private_room_with(http, server, owner, member)
    rid = room["id"]
    public = await create_room(http, server, owner)

    cases = [
        (rid, {"userId": member.id}, 409, "conflict"),  # already a member
        (rid, {"userId": owner.id}, 409, "conflict"),
        (rid, {"userId": str(uuid.uuid4())}, 404, "not_found"),
        (rid, {"userId": "nope"}, 400, "validation_error"),
        (rid, {}, 400, "validation_error"),
        (public["id"], {"userId": member.id}, 409, "conflict"),  # public rooms take no invites
    ]
    for room_id, body, want_status, code in cases:
        status, resp = await api(
            http, server, "POST", f"/api/rooms/{room_id}/invites", owner, json=body
        )
        assert status == want_status, (body, resp)
        assert resp["error"]["code"] == code, (body, resp)
    status, details = await api(http, server, "GET", f"/api/rooms/{rid}", owner)
    assert status == 200, details
    assert details["memberCount"] == 2


async def test_room_list_pagination_and_search(server, http, register):
    user = await register(server)
    prefix = unique_name("pg")
    names = [f"{prefix}_{c}" for c in "edcba"]
    for name in names:
        await create_room(http, server, user, name)

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"search": prefix, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        status, body = await api(http, server, "GET", "/api/rooms", user, params=params)
        assert status == 200, body
        pages += 1
        assert len(body["rooms"]) <= 2
        seen += [r["name"] for r in body["rooms"]]
        if not body["hasMore"]:
            assert body["nextCursor"] is None
            break
        assert body["nextCursor"] == body["rooms"][-1]["id"]
        cursor = body["nextCursor"]
        assert pages < 10
    assert seen == sorted(names)
    assert pages == 3

    # Search is case-insensitive and a substring match.
    status, body = await api(
        http, server, "GET", "/api/rooms", user, params={"search": prefix.upper()[3:]}
    )
    assert sorted(r["name"] for r in body["rooms"]) == sorted(names)

    for params in (
        {"limit": 0},
        {"limit": 201},
        {"limit": "x"},
        {"cursor": "nope"},
        {"search": ""},
    ):
        status, body = await api(http, server, "GET", "/api/rooms", user, params=params)
        assert status == 400, (params, body)


async def test_search_treats_like_wildcards_literally(server, http, register):
    user = await register(server)
    p = uuid.uuid4().hex[:10]
    percent = await create_room(http, server, user, f"{p} 100% real")
    await create_room(http, server, user, f"{p} 1000 real")
    underscore = await create_room(http, server, user, f"{p} a_b")
    await create_room(http, server, user, f"{p} axb")
    backslash = await create_room(http, server, user, f"{p} back\\slash")

    async def search(term: str) -> list[str]:
        status, body = await api(http, server, "GET", "/api/rooms", user, params={"search": term})
        assert status == 200, body
        return [r["id"] for r in body["rooms"]]

    assert await search(f"{p} 100%") == [percent["id"]]
    assert await search(f"{p} a_b") == [underscore["id"]]
    assert await search(f"{p} back\\s") == [backslash["id"]]
    assert await search(f"{p} %") == []
    assert await search(f"{p}_") == []


async def test_list_shows_member_and_unread_counts(server, http, register):
    owner = await register(server)
    reader = await register(server)
    stranger = await register(server)
    room = await create_room(http, server, owner)
    rid = room["id"]
    await join(http, server, reader, rid)
    for i in range(3):
        await post_message(http, server, owner, rid, f"message {i}")

    entry = await room_entry(http, server, reader, rid)
    assert entry is not None
    assert entry["memberCount"] == 2
    assert entry["unreadCount"] == 3
    assert entry["lastSeq"] == 3
    assert entry["isMember"] is True
    # Own messages never count as unread.
    entry = await room_entry(http, server, owner, rid)
    assert entry is not None and entry["unreadCount"] == 0
    # A public room's non-member sees it, with nothing unread.
    entry = await room_entry(http, server, stranger, rid)
    assert entry is not None and entry["isMember"] is False and entry["unreadCount"] == 0
    status, details = await api(http, server, "GET", f"/api/rooms/{rid}", reader)
    assert status == 200, details
    assert details["unreadCount"] == 3
    # A newcomer starts with nothing unread.
    await join(http, server, stranger, rid)
    entry = await room_entry(http, server, stranger, rid)
    assert entry is not None and entry["unreadCount"] == 0 and entry["memberCount"] == 3


async def test_join_and_leave_over_rest(server, http, register):
    owner = await register(server)
    user = await register(server)
    room = await create_room(http, server, owner)
    rid = room["id"]

    joined = await join(http, server, user, rid)
    assert joined["isMember"] is True and joined["role"] == "member"
    assert joined["memberCount"] == 2
    # Joining twice is a no-op.
    again = await join(http, server, user, rid)
    assert again["memberCount"] == 2
    await post_message(http, server, user, rid, "hello")

    status, _ = await api(http, server, "DELETE", f"/api/rooms/{rid}/leave", user)
    assert status == 204
    status, body = await api(http, server, "DELETE", f"/api/rooms/{rid}/leave", user)
    assert status == 404, body
    status, details = await api(http, server, "GET", f"/api/rooms/{rid}", user)
    assert status == 200, details
    assert details["memberCount"] == 1 and details["isMember"] is False
    # A public room's history stays readable; posting needs membership.
    status, page = await api(http, server, "GET", f"/api/rooms/{rid}/messages", user)
    assert status == 200 and [m["content"] for m in page["messages"]] == ["hello"]
    status, body = await api(
        http, server, "POST", f"/api/rooms/{rid}/messages", user, json={"content": "x"}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"


async def test_leaving_the_lobby_is_refused(server, http, register):
    user = await register(server)
    status, body = await api(http, server, "DELETE", f"/api/rooms/{LOBBY_ID}/leave", user)
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    status, lobby = await api(http, server, "GET", f"/api/rooms/{LOBBY_ID}", user)
    assert status == 200 and lobby["isMember"] is True


async def test_members_list_and_pagination(server, http, register):
    owner = await register(server)
    a = await register(server)
    b = await register(server)
    room = await private_room_with(http, server, owner, a, b)
    rid = room["id"]

    status, page = await api(http, server, "GET", f"/api/rooms/{rid}/members", a)
    assert status == 200, page
    by_id = {m["id"]: m for m in page["members"]}
    assert set(by_id) == {owner.id, a.id, b.id}
    assert by_id[owner.id]["role"] == "owner"
    assert by_id[a.id]["role"] == "member"
    assert by_id[a.id]["username"] == a.username
    for m in page["members"]:
        assert m["online"] is False
        assert "lastSeen" in m and "joinedAt" in m and "lastReadSeq" in m

    seen = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        status, page = await api(http, server, "GET", f"/api/rooms/{rid}/members", a, params=params)
        assert status == 200, page
        seen += [m["id"] for m in page["members"]]
        if not page["hasMore"]:
            break
        cursor = page["nextCursor"]
    assert sorted(seen) == sorted(by_id) and len(seen) == 3


async def test_list_cursor_does_not_reveal_private_rooms(server, http, register):
    """A private room's id used as a cursor must answer like an unknown id: otherwise the
    page that follows tells where the room's (secret) name sorts among public rooms."""
    owner = await register(server)
    outsider = await register(server)
    secret = await create_room(http, server, owner, "mmm secret", private=True)
    after = await create_room(http, server, owner, unique_name("zzz"))

    async def page(user, cursor: str) -> list[str]:
        status, body = await api(
            http, server, "GET", "/api/rooms", user, params={"cursor": cursor, "limit": 200}
        )
        assert status == 200, body
        return [r["id"] for r in body["rooms"]]

    assert await page(outsider, secret["id"]) == await page(outsider, str(uuid.uuid4()))
    # For its owner the cursor works as usual: rooms sorting after "mmm secret" follow.
    assert after["id"] in await page(owner, secret["id"])


async def test_room_names_are_trimmed(server, http, register):
    owner = await register(server)
    name = unique_name("Trim")
    room = await create_room(http, server, owner, f"  {name}\u00a0 ")
    assert room["name"] == name
    status, body = await api(http, server, "POST", "/api/rooms", owner, json={"name": f" {name}"})
    assert status == 409, body


async def test_inviting_twice_changes_nothing_and_notifies_once(
    server, http, register, sio_connect
):
    owner = await register(server)
    guest = await register(server)
    room = await create_room(http, server, owner, unique_name("Inv"), private=True)
    watcher = await sio_connect(server, guest.access_token, events=("room_invite",))
    path = f"/api/rooms/{room['id']}/invites"
    status, first = await api(http, server, "POST", path, owner, json={"userId": guest.id})
    assert status == 201, first
    status, again = await api(http, server, "POST", path, owner, json={"userId": guest.id})
    assert status == 200, again
    assert again["room"]["id"] == first["room"]["id"]
    await wait_match(watcher, "room_invite", lambda e: e["room"]["id"] == room["id"])
    await asyncio.sleep(0.5)
    assert len(watcher.recorder.events["room_invite"]) == 1
