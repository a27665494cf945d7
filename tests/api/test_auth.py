"""/api/auth/*: register, login, refresh rotation and reuse detection, logout, cookies."""

from __future__ import annotations

import asyncio
import uuid

import aiohttp
import pytest

from chat_server.api.keys import CONFIG
from chat_server.services.tokens import TokenCodec
from tests.conftest import LOBBY_ID, PASSWORD, unique_name

NS = "/chat"


def assert_error(body: dict, code: str) -> dict:
    assert set(body) == {"error"}, body
    err = body["error"]
    assert err["code"] == code, body
    assert isinstance(err["message"], str) and err["message"]
    return err


def assert_pair(body: dict) -> None:
    assert set(body) == {"user", "accessToken", "refreshToken", "expiresIn"}, body
    assert isinstance(body["accessToken"], str) and body["accessToken"].count(".") == 2
    assert isinstance(body["refreshToken"], str) and len(body["refreshToken"]) >= 32
    assert body["expiresIn"] == 900


async def post(http, url, **kw):
    async with http.post(url, **kw) as resp:
        body = await resp.json() if resp.content_type == "application/json" else None
        return resp.status, body, resp


async def get_me(http, server, token):
    async with http.get(
        f"{server.url}/api/users/me", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        return resp.status, await resp.json()


async def refresh(http, server, token):
    status, body, _ = await post(
        http, f"{server.url}/api/auth/refresh", json={"refreshToken": token}
    )
    return status, body


@pytest.fixture
async def jar_session():
    """A browser-like client: keeps cookies (127.0.0.1 needs unsafe=True)."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


# -- register ------------------------------------------------------------------------------


async def test_register_returns_user_and_tokens(server, http):
    name = unique_name()
    status, body, _ = await post(
        http,
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
    )
    assert status == 201, body
    assert_pair(body)
    user = body["user"]
    assert user["username"] == name
    assert user["email"] == f"{name}@example.test"
    assert {"id", "username", "email", "displayName", "createdAt"} <= set(user)
    assert not any("hash" in k.lower() or "password" in k.lower() for k in user)
    assert user["createdAt"].endswith("Z")
    # The new token works and names the same user.
    me_status, me = await get_me(http, server, body["accessToken"])
    assert me_status == 200
    assert me["id"] == user["id"]


async def test_register_sets_httponly_samesite_cookies(server, http):
    name = unique_name()
    status, body, resp = await post(
        http,
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
    )
    assert status == 201
    access = resp.cookies["chat_access"]
    refresh_cookie = resp.cookies["chat_refresh"]
    assert access.value == body["accessToken"]
    assert refresh_cookie.value == body["refreshToken"]
    for morsel in (access, refresh_cookie):
        assert morsel["httponly"] is True
        assert morsel["samesite"].lower() in ("lax", "strict")
        assert not morsel["secure"]  # test env is not production
        assert int(morsel["max-age"]) > 0
    assert access["path"] == "/"
    assert refresh_cookie["path"] == "/api/auth"  # never sent to the rest of the API


async def test_register_is_a_lobby_member(server, http, register):
    user = await register(server)
    async with http.get(f"{server.url}/api/rooms/{LOBBY_ID}", headers=user.headers) as resp:
        assert resp.status == 200
        room = await resp.json()
    assert room["id"] == LOBBY_ID
    assert room.get("isMember") is True


@pytest.mark.parametrize("variant", ["same", "upper"])
async def test_duplicate_email_conflicts_case_insensitively(server, http, register, variant):
    first = await register(server)
    email = first.email if variant == "same" else first.email.upper()
    status, body, _ = await post(
        http,
        f"{server.url}/api/auth/register",
        json={"email": email, "username": unique_name(), "password": PASSWORD},
    )
    assert status == 409, body
    err = assert_error(body, "conflict")
    assert "email" in err["fields"]


@pytest.mark.parametrize("variant", ["same", "upper"])
async def test_duplicate_username_conflicts_case_insensitively(server, http, register, variant):
    first = await register(server)
    name = first.username if variant == "same" else first.username.upper()
    status, body, _ = await post(
        http,
        f"{server.url}/api/auth/register",
        json={"email": f"{unique_name()}@example.test", "username": name, "password": PASSWORD},
    )
    assert status == 409, body
    err = assert_error(body, "conflict")
    assert "username" in err["fields"]


async def test_register_validation_errors_name_fields(server, http):
    status, body, _ = await post(
        http,
        f"{server.url}/api/auth/register",
        json={"email": "nope", "username": "a-b", "password": "short"},
    )
    assert status == 400
    err = assert_error(body, "validation_error")
    assert set(err["fields"]) == {"email", "username", "password"}


# -- login ---------------------------------------------------------------------------------


async def test_login_by_email(server, http, register):
    user = await register(server)
    status, body, resp = await post(
        http, f"{server.url}/api/auth/login", json={"email": user.email, "password": user.password}
    )
    assert status == 200, body
    assert_pair(body)
    assert body["user"]["id"] == user.id
    assert resp.cookies["chat_access"]["httponly"] is True
    # A new session: different tokens from the registration's.
    assert body["refreshToken"] != user.refresh_token


async def test_login_by_username_and_case_insensitive(server, http, register):
    user = await register(server)
    for payload in (
        {"email": user.username, "password": user.password},
        {"username": user.username, "password": user.password},
        {"username": user.username.upper(), "password": user.password},
        {"email": user.email.upper(), "password": user.password},
    ):
        status, body, _ = await post(http, f"{server.url}/api/auth/login", json=payload)
        assert status == 200, (payload, body)
        assert body["user"]["id"] == user.id


async def test_wrong_password_and_unknown_user_look_the_same(server, http, register):
    user = await register(server)
    s1, wrong_pw, _ = await post(
        http,
        f"{server.url}/api/auth/login",
        json={"email": user.email, "password": "wrong password"},
    )
    s2, unknown, _ = await post(
        http,
        f"{server.url}/api/auth/login",
        json={"email": f"{unique_name()}@example.test", "password": "wrong password"},
    )
    s3, unknown_name, _ = await post(
        http, f"{server.url}/api/auth/login", json={"username": unique_name(), "password": "x" * 10}
    )
    assert s1 == s2 == s3 == 401
    assert wrong_pw == unknown == unknown_name
    assert_error(wrong_pw, "unauthenticated")


async def test_login_without_identifier_is_a_validation_error(server, http):
    status, body, _ = await post(
        http, f"{server.url}/api/auth/login", json={"password": "whatever"}
    )
    assert status == 400
    assert_error(body, "validation_error")


# -- refresh -------------------------------------------------------------------------------


async def test_refresh_rotates_the_pair(server, http, register):
    user = await register(server)
    status, body = await refresh(http, server, user.refresh_token)
    assert status == 200, body
    assert_pair(body)
    assert body["user"]["id"] == user.id
    assert body["refreshToken"] != user.refresh_token
    assert body["accessToken"] != user.access_token
    assert (await get_me(http, server, body["accessToken"]))[0] == 200
    # The new refresh token works once more: the family is alive.
    status, again = await refresh(http, server, body["refreshToken"])
    assert status == 200, again


@pytest.fixture
async def strict_server(start_server):
    """No grace window: any reuse of a spent refresh token counts as theft."""
    return await start_server(refresh_reuse_grace_s=0)


async def test_spent_refresh_token_is_refused_and_revokes_the_family(strict_server, http, register):
    server = strict_server
    user = await register(server)
    status, newer = await refresh(http, server, user.refresh_token)
    assert status == 200
    # Replay of the spent token: refused...
    status, body = await refresh(http, server, user.refresh_token)
    assert status == 401, body
    assert_error(body, "invalid_token")
    # ...and the legitimate newer token of that family stops working too.
    status, body = await refresh(http, server, newer["refreshToken"])
    assert status == 401, body
    # Other sessions of the same user are not affected.
    status, other, _ = await post(
        http, f"{server.url}/api/auth/login", json={"email": user.email, "password": user.password}
    )
    assert status == 200
    assert (await refresh(http, server, other["refreshToken"]))[0] == 200
    # The access tokens of the revoked family are refused as well.
    async with http.get(
        f"{server.url}/api/users/me", headers={"Authorization": f"Bearer {newer['accessToken']}"}
    ) as resp:
        assert resp.status == 401


async def test_reuse_disconnects_the_family_sockets(strict_server, http, register, sio_connect):
    server = strict_server
    user = await register(server)
    status, newer = await refresh(http, server, user.refresh_token)
    assert status == 200
    client = await sio_connect(
        server, newer["accessToken"], events=("session_revoked", "disconnect")
    )
    assert (await refresh(http, server, user.refresh_token))[0] == 401
    await client.recorder.wait_for("session_revoked")
    await client.recorder.wait_for("disconnect")


async def test_concurrent_refresh_with_one_token_yields_one_pair(strict_server, http, register):
    server = strict_server
    user = await register(server)
    results = await asyncio.gather(*(refresh(http, server, user.refresh_token) for _ in range(2)))
    statuses = sorted(s for s, _ in results)
    assert statuses[0] == 200
    assert statuses == [200, 401]


async def test_reuse_within_the_grace_window_is_a_concurrent_refresh(server, http, register):
    """Two tabs refreshing at once (default 10 s grace): both get a working pair, and the
    family stays alive."""
    user = await register(server)
    results = await asyncio.gather(*(refresh(http, server, user.refresh_token) for _ in range(2)))
    assert sorted(s for s, _ in results) == [200, 200]
    for _, pair in results:
        assert (await refresh(http, server, pair["refreshToken"]))[0] == 200


@pytest.mark.parametrize("token", ["not-a-real-token", "x" * 43])
async def test_unknown_refresh_token_is_refused(server, http, token):
    status, body = await refresh(http, server, token)
    assert status == 401
    assert_error(body, "invalid_token")


async def test_refresh_without_token_is_refused(server, http):
    status, body, _ = await post(http, f"{server.url}/api/auth/refresh", json={})
    assert status == 401
    assert_error(body, "invalid_token")
    status, body, _ = await post(http, f"{server.url}/api/auth/refresh")
    assert status == 401
    assert_error(body, "invalid_token")


async def test_refresh_via_cookie(server, jar_session):
    name = unique_name()
    status, reg, _ = await post(
        jar_session,
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
    )
    assert status == 201
    status, body, resp = await post(jar_session, f"{server.url}/api/auth/refresh")
    assert status == 200, body
    assert body["user"]["username"] == name
    assert body["refreshToken"] != reg["refreshToken"]
    assert resp.cookies["chat_refresh"].value == body["refreshToken"]
    # The jar now holds the rotated token; refreshing again works (rotation via cookie).
    status, body2, _ = await post(jar_session, f"{server.url}/api/auth/refresh")
    assert status == 200, body2
    # The cookie-authenticated API works with the access cookie alone.
    async with jar_session.get(f"{server.url}/api/users/me") as r:
        assert r.status == 200
        assert (await r.json())["username"] == name


async def test_refresh_via_cookie_from_a_foreign_origin_is_refused(server, jar_session):
    name = unique_name()
    status, _, _ = await post(
        jar_session,
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
    )
    assert status == 201
    status, body, _ = await post(
        jar_session, f"{server.url}/api/auth/refresh", headers={"Origin": "https://evil.example"}
    )
    assert status == 403, body
    assert_error(body, "forbidden")


# -- logout --------------------------------------------------------------------------------


async def test_logout_revokes_access_and_refresh_tokens(server, http, register):
    user = await register(server)
    async with http.post(f"{server.url}/api/auth/logout", headers=user.headers) as resp:
        assert resp.status == 204
        assert await resp.read() == b""
        cleared = resp.cookies.get("chat_access")
        assert cleared is not None and cleared.value == ""
    status, body = await get_me(http, server, user.access_token)
    assert status == 401
    assert_error(body, "invalid_token")
    status, body = await refresh(http, server, user.refresh_token)
    assert status == 401
    assert_error(body, "invalid_token")
    # Logging out twice with the dead token is refused too.
    async with http.post(f"{server.url}/api/auth/logout", headers=user.headers) as resp:
        assert resp.status == 401


async def test_logout_ends_only_that_session(server, http, register):
    user = await register(server)
    status, other, _ = await post(
        http, f"{server.url}/api/auth/login", json={"email": user.email, "password": user.password}
    )
    assert status == 200
    async with http.post(f"{server.url}/api/auth/logout", headers=user.headers) as resp:
        assert resp.status == 204
    assert (await get_me(http, server, other["accessToken"]))[0] == 200
    assert (await refresh(http, server, other["refreshToken"]))[0] == 200


async def test_logout_disconnects_that_sessions_sockets(server, http, register, sio_connect):
    user = await register(server)
    status, other, _ = await post(
        http, f"{server.url}/api/auth/login", json={"email": user.email, "password": user.password}
    )
    assert status == 200
    doomed = await sio_connect(server, user.access_token, events=("session_revoked", "disconnect"))
    survivor = await sio_connect(server, other["accessToken"], events=("new_message",))
    async with http.post(f"{server.url}/api/auth/logout", headers=user.headers) as resp:
        assert resp.status == 204
    revoked = await doomed.recorder.wait_for("session_revoked")
    assert isinstance(revoked[0], dict)
    await doomed.recorder.wait_for("disconnect")
    # The other session's socket still works.
    ack = await survivor.call(
        "send_message", {"roomId": LOBBY_ID, "content": "still here"}, namespace=NS, timeout=10
    )
    assert ack["ok"] is True, ack
    # And the logged-out token cannot open a new socket.
    with pytest.raises(Exception):  # noqa: B017 - socketio raises its ConnectionError
        await sio_connect(server, user.access_token)


async def test_logout_requires_authentication(server, http):
    async with http.post(f"{server.url}/api/auth/logout") as resp:
        assert resp.status == 401
        assert_error(await resp.json(), "unauthenticated")


# -- Authorization header and cookies ---------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "bearer not.a.jwt",
        "Bearer a.b.c",
        "abc",
    ],
)
async def test_malformed_bearer_header_is_401(server, http, header):
    async with http.get(f"{server.url}/api/users/me", headers={"Authorization": header}) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["error"]["code"] in ("unauthenticated", "invalid_token")


async def test_bearer_scheme_is_case_insensitive(server, http, register):
    user = await register(server)
    async with http.get(
        f"{server.url}/api/users/me", headers={"Authorization": f"bearer {user.access_token}"}
    ) as resp:
        assert resp.status == 200


async def test_no_credentials_is_401(server, http):
    async with http.get(f"{server.url}/api/users/me") as resp:
        assert resp.status == 401
        assert_error(await resp.json(), "unauthenticated")


async def test_cookie_post_from_foreign_origin_is_403(server, jar_session):
    name = unique_name()
    status, _, _ = await post(
        jar_session,
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
    )
    assert status == 201
    url = f"{server.url}/api/rooms/{LOBBY_ID}/messages"
    status, body, _ = await post(
        jar_session, url, json={"content": "csrf"}, headers={"Origin": "https://evil.example"}
    )
    assert status == 403, body
    assert_error(body, "forbidden")
    status, body, _ = await post(
        jar_session, url, json={"content": "csrf"}, headers={"Referer": "https://evil.example/page"}
    )
    assert status == 403, body
    # Same origin is fine, and so is a safe GET from anywhere.
    status, body, _ = await post(
        jar_session, url, json={"content": "same origin"}, headers={"Origin": server.url}
    )
    assert status == 201, body
    async with jar_session.get(url, headers={"Origin": "https://evil.example"}) as resp:
        assert resp.status == 200
        contents = [m["content"] for m in (await resp.json())["messages"]]
    assert "csrf" not in contents
    assert "same origin" in contents
    # Cookie-authenticated logout from a foreign origin is refused as well.
    status, body, _ = await post(
        jar_session, f"{server.url}/api/auth/logout", headers={"Origin": "https://evil.example"}
    )
    assert status == 403, body


async def test_expired_access_token_is_401_token_expired(server, http, register):
    user = await register(server)
    codec = TokenCodec(server.app[CONFIG].jwt_secret, -120)
    expired, _ = codec.issue_access(user.id, user.username, str(uuid.uuid4()))
    status, body = await get_me(http, server, expired)
    assert status == 401
    assert_error(body, "token_expired")


async def test_token_signed_with_another_secret_is_401(server, http, register):
    user = await register(server)
    forged, _ = TokenCodec("not-the-server-secret-" + "z" * 50, 900).issue_access(
        user.id, user.username, str(uuid.uuid4())
    )
    status, body = await get_me(http, server, forged)
    assert status == 401
    assert_error(body, "invalid_token")


async def test_multibyte_72_byte_password_end_to_end(server, http, register):
    pw = "密码" * 12  # 24 characters, 72 bytes
    user = await register(server, password=pw)
    status, body, _ = await post(
        http, f"{server.url}/api/auth/login", json={"email": user.email, "password": pw}
    )
    assert status == 200, body
    status, body, _ = await post(
        http, f"{server.url}/api/auth/login", json={"email": user.email, "password": pw + "x"}
    )
    assert status == 401, body


async def test_overlong_password_at_login_is_a_plain_401(server, http, register):
    user = await register(server)
    status, body, _ = await post(
        http,
        f"{server.url}/api/auth/login",
        json={"email": user.email, "password": user.password + "x" * 200},
    )
    assert status == 401, body
    assert_error(body, "unauthenticated")
