"""/api/users/me: read and change one's own profile."""

from __future__ import annotations

import pytest

from tests.conftest import LOBBY_ID, PASSWORD, unique_name


def assert_error(body: dict, code: str) -> dict:
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


async def put_me(http, server, user, payload):
    async with http.put(f"{server.url}/api/users/me", json=payload, headers=user.headers) as resp:
        return resp.status, await resp.json()


async def get_me(http, server, user):
    async with http.get(f"{server.url}/api/users/me", headers=user.headers) as resp:
        return resp.status, await resp.json()


async def login(http, server, identifier, password):
    async with http.post(
        f"{server.url}/api/auth/login", json={"email": identifier, "password": password}
    ) as resp:
        return resp.status, await resp.json()


async def test_get_me(server, http, register):
    user = await register(server)
    status, me = await get_me(http, server, user)
    assert status == 200
    assert me["id"] == user.id
    assert me["username"] == user.username
    assert me["email"] == user.email
    assert me["displayName"] is None
    assert me["createdAt"].endswith("Z") and me["updatedAt"].endswith("Z")
    assert not any("password" in k.lower() or "hash" in k.lower() for k in me)


async def test_get_me_requires_auth(server, http):
    async with http.get(f"{server.url}/api/users/me") as resp:
        assert resp.status == 401
        assert_error(await resp.json(), "unauthenticated")
    async with http.put(f"{server.url}/api/users/me", json={"displayName": "x"}) as resp:
        assert resp.status == 401


async def test_change_display_name_and_clear_it(server, http, register):
    user = await register(server)
    status, me = await put_me(http, server, user, {"displayName": "Alice Liddell"})
    assert status == 200, me
    assert me["displayName"] == "Alice Liddell"
    assert (await get_me(http, server, user))[1]["displayName"] == "Alice Liddell"
    status, me = await put_me(http, server, user, {"displayName": None})
    assert status == 200, me
    assert me["displayName"] is None
    status, me = await put_me(http, server, user, {"displayName": "Again"})
    assert me["displayName"] == "Again"
    status, me = await put_me(http, server, user, {"displayName": ""})
    assert status == 200
    assert me["displayName"] is None


async def test_change_username(server, http, register):
    user = await register(server)
    new_name = unique_name("renamed")
    status, me = await put_me(http, server, user, {"username": new_name})
    assert status == 200, me
    assert me["username"] == new_name
    assert me["id"] == user.id
    assert (await get_me(http, server, user))[1]["username"] == new_name
    # The new name logs in, the old one no longer names anyone.
    status, body = await login(http, server, new_name, user.password)
    assert status == 200 and body["user"]["id"] == user.id
    status, _ = await login(http, server, user.username, user.password)
    assert status == 401


async def test_change_username_case_only_is_allowed(server, http, register):
    user = await register(server)
    status, me = await put_me(http, server, user, {"username": user.username.upper()})
    assert status == 200, me
    assert me["username"] == user.username.upper()


@pytest.mark.parametrize("changes", [{}, {"currentPassword": PASSWORD}, None])
async def test_an_update_with_nothing_to_change_is_refused(server, http, register, changes):
    """{} (or no body at all) changes nothing: a mistake, refused as the document says."""
    user = await register(server)
    _, before = await get_me(http, server, user)
    if changes is None:
        async with http.put(f"{server.url}/api/users/me", headers=user.headers) as resp:
            status, body = resp.status, await resp.json()
    else:
        status, body = await put_me(http, server, user, changes)
    assert status == 400, body
    assert "_schema" in assert_error(body, "validation_error")["fields"]
    assert (await get_me(http, server, user))[1] == before


@pytest.mark.parametrize("case", ["same", "upper"])
async def test_taken_username_is_409(server, http, register, case):
    alice = await register(server)
    bob = await register(server)
    taken = alice.username if case == "same" else alice.username.upper()
    status, body = await put_me(http, server, bob, {"username": taken})
    assert status == 409, body
    err = assert_error(body, "conflict")
    assert "username" in err["fields"]
    assert (await get_me(http, server, bob))[1]["username"] == bob.username


async def test_taken_email_is_409(server, http, register):
    alice = await register(server)
    bob = await register(server)
    # An email change needs the current password (issue 14 #11), checked before the 409.
    status, body = await put_me(
        http, server, bob, {"email": alice.email.upper(), "currentPassword": bob.password}
    )
    assert status == 409, body
    assert "email" in assert_error(body, "conflict")["fields"]


async def test_password_change_requires_current_password(server, http, register):
    user = await register(server)
    status, body = await put_me(http, server, user, {"password": "brand new password"})
    assert status == 400, body
    err = assert_error(body, "validation_error")
    assert "currentPassword" in err["fields"]
    status, body = await put_me(
        http,
        server,
        user,
        {"password": "brand new password", "currentPassword": "not the password"},
    )
    # Well formed, but the caller may not: 403 (not 401, the session itself is fine).
    assert status == 403, body
    assert "currentPassword" in assert_error(body, "forbidden")["fields"]
    # Nothing changed: the old password still logs in.
    assert (await login(http, server, user.email, user.password))[0] == 200
    assert (await login(http, server, user.email, "brand new password"))[0] == 401


async def test_password_change_with_current_password(server, http, register):
    user = await register(server)
    status, body = await put_me(
        http, server, user, {"password": "brand new password", "currentPassword": user.password}
    )
    assert status == 200, body
    assert not any("password" in k.lower() for k in body)
    assert (await login(http, server, user.email, "brand new password"))[0] == 200
    assert (await login(http, server, user.email, user.password))[0] == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"username": "x"}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": 42}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"displayName": "x" * 101}, "displayName"),
        ({"displayName": "two\nlines"}, "displayName"),
        ({"displayName": 7}, "displayName"),
        ({"password": "short", "currentPassword": "whatever1"}, "password"),
        ({"password": "x" * 73, "currentPassword": "whatever1"}, "password"),
        ({"isAdmin": True}, "isAdmin"),
        ({"display_name": "snake"}, "display_name"),
    ],
)
async def test_invalid_fields_are_400_with_fields(server, http, register, payload, field):
    user = await register(server)
    _, before = await get_me(http, server, user)
    status, body = await put_me(http, server, user, payload)
    assert status == 400, body
    err = assert_error(body, "validation_error")
    assert field in err["fields"], err
    _, after = await get_me(http, server, user)
    assert after == before


async def test_new_username_appears_in_history(server, http, register):
    user = await register(server)
    new_name = unique_name("renamed")
    assert (await put_me(http, server, user, {"username": new_name}))[0] == 200
    async with http.post(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages",
        json={"content": "after rename"},
        headers=user.headers,
    ) as resp:
        assert resp.status == 201
        seq = (await resp.json())["message"]["seq"]
    async with http.get(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages?after={seq - 1}&limit=1", headers=user.headers
    ) as resp:
        page = await resp.json()
    assert page["messages"][0]["username"] == new_name


async def test_new_username_is_used_for_messages_sent_after_a_rename(
    server, http, register, sio_connect
):
    """The stored name, not the (older) name inside the access token, labels new messages."""
    user = await register(server)
    listener = await register(server)
    sock = await sio_connect(server, listener.access_token, events=("new_message",))
    new_name = unique_name("renamed")
    assert (await put_me(http, server, user, {"username": new_name}))[0] == 200
    async with http.post(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages",
        json={"content": "renamed"},
        headers=user.headers,
    ) as resp:
        assert resp.status == 201
        message = (await resp.json())["message"]
    assert message["username"] == new_name
    got = await sock.recorder.wait_for("new_message")
    assert got[-1]["message"]["username"] == new_name
