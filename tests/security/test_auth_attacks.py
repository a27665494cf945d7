"""Attacks on authentication, end to end. tests/services/test_tokens.py checks the token
codec alone and tests/api/test_auth.py the normal flows; here each forged or stolen
credential is tried on every door at once (Bearer header, the browser cookie, the
Socket.IO handshake and the `authenticate` event), against a real victim account so that
only the forgery check stands in the way. Also: brute force throttled per IP and per
account without revealing which accounts exist, password rules, cookie flags in
production, CSRF on every state-changing route, and the CORS allow-list for HTTP and for
the Socket.IO handshake."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from typing import Any

import aiohttp
import bcrypt
import pytest
import socketio

from chat_server.api.keys import CONFIG
from chat_server.api.openapi import OPERATIONS
from tests.chat_helpers import api, call, create_room, post_message
from tests.conftest import LOBBY_ID, PASSWORD, REDIS_URL, unique_name
from tests.realtime.conftest import refused

NS = "/chat"
EVIL = "https://evil.example"


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], claims: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand (PyJWT refuses to build some of these)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    sig = b"" if key is None else hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def forgeries(secret: str, victim_token: str, other_id: str) -> dict[str, str]:
    """Each a credential that must be refused; all name the real victim."""
    good = claims_of(victim_token)
    key = secret.encode()
    hs256 = {"alg": "HS256", "typ": "JWT"}
    now = int(time.time())
    head, body, sig = victim_token.split(".")
    return {
        "alg none": hand_made({"alg": "none", "typ": "JWT"}, good, None),
        "alg None (case)": hand_made({"alg": "None", "typ": "JWT"}, good, None),
        "HS256 without signature": f"{head}.{body}.",
        # HS/RS confusion: an RS256 header over an HMAC made with the shared secret (what a
        # server that trusts `alg` would verify with its "public key").
        "RS256 header, HMAC signature": hand_made({"alg": "RS256", "typ": "JWT"}, good, key),
        "HS512 with the right secret": _pyjwt(good, secret, "HS512"),
        "kid / jku injection": hand_made(
            {**hs256, "kid": "../../dev/null", "jku": "https://evil.example/k"}, good, b""
        ),
        "tampered sub": hand_made(hs256, {**good, "sub": other_id}, b"guessed-secret"),
        "tampered payload, original signature": (
            f"{head}.{b64(json.dumps({**good, 'sub': other_id}).encode())}.{sig}"
        ),
        "tampered exp, original signature": (
            f"{head}.{b64(json.dumps({**good, 'exp': now + 10**8}).encode())}.{sig}"
        ),
        "wrong secret": _pyjwt(good, "not-the-secret-" + "q" * 40, "HS256"),
        "expired": _pyjwt(
            {**good, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}, secret, "HS256"
        ),
        "not yet valid (nbf)": _pyjwt({**good, "nbf": now + 3600}, secret, "HS256"),
        "issued in the future (iat)": _pyjwt({**good, "iat": now + 3600}, secret, "HS256"),
        "type refresh": _pyjwt({**good, "type": "refresh"}, secret, "HS256"),
        "no type": _pyjwt({k: v for k, v in good.items() if k != "type"}, secret, "HS256"),
        "no jti": _pyjwt({k: v for k, v in good.items() if k != "jti"}, secret, "HS256"),
        "no exp": _pyjwt({k: v for k, v in good.items() if k != "exp"}, secret, "HS256"),
        "sub not a uuid": _pyjwt({**good, "sub": "admin"}, secret, "HS256"),
        "exp as string": _pyjwt({**good, "exp": str(now + 600)}, secret, "HS256"),
        "two tokens glued": victim_token + "." + victim_token,
        "whitespace around": " " + victim_token + "x",
    }


def _pyjwt(claims: dict[str, Any], secret: str, alg: str) -> str:
    import jwt

    return jwt.encode(claims, secret, algorithm=alg)


async def bearer_status(http, server, token: str) -> int:
    async with http.get(
        f"{server.url}/api/users/me", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        body = await resp.json()
        if resp.status == 401:
            assert body["error"]["code"] in ("invalid_token", "token_expired", "unauthenticated")
        return resp.status


async def cookie_status(server, token: str) -> int:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        session.cookie_jar.update_cookies({"chat_access": token})
        async with session.get(f"{server.url}/api/users/me") as resp:
            return resp.status


async def authenticate_event(server, sio_connect, token: str) -> dict[str, Any]:
    client = await sio_connect(server, None, events=("auth_error", "authenticated"))
    ack = await call(client, "authenticate", {"token": token})
    await client.disconnect()
    return ack  # type: ignore[no-any-return]


@pytest.mark.filterwarnings("ignore:The HMAC key is")  # the HS512 forgery, on purpose
async def test_forged_tokens_are_refused_on_every_door(server, http, register, sio_connect):
    victim = await register(server)
    other = await register(server)
    secret = server.app[CONFIG].jwt_secret
    # The genuine token works everywhere (so a refusal below is the forgery's doing).
    assert await bearer_status(http, server, victim.access_token) == 200
    assert await cookie_status(server, victim.access_token) == 200
    assert (await authenticate_event(server, sio_connect, victim.access_token))["ok"] is True

    for name, token in forgeries(secret, victim.access_token, other.id).items():
        assert await bearer_status(http, server, token) == 401, name
        assert await cookie_status(server, token) == 401, name
        error = await refused(server, {"token": token})
        assert error["message"] == "Invalid token", name
        assert error["data"]["code"] in ("invalid_token", "token_expired"), name
        ack = await authenticate_event(server, sio_connect, token)
        assert ack["ok"] is False and ack["error"]["code"] in (
            "invalid_token",
            "token_expired",
            "validation_error",
        ), (name, ack)


async def test_refresh_and_access_tokens_are_not_interchangeable(server, http, register):
    user = await register(server)
    # A refresh token is not an access token...
    assert await bearer_status(http, server, user.refresh_token) == 401
    # ...and an access token is not a refresh token.
    status, body = await api(
        http, server, "POST", "/api/auth/refresh", json={"refreshToken": user.access_token}
    )
    assert status == 400 or (status == 401 and body["error"]["code"] == "invalid_token"), body
    # The refresh cookie is scoped to /api/auth: it is never sent to the rest of the API,
    # and used as an access cookie it does not authenticate.
    assert await cookie_status(server, user.refresh_token) == 401


async def test_a_logged_out_token_is_dead_on_every_door(server, http, register, sio_connect):
    user = await register(server)
    live = await sio_connect(server, user.access_token, events=("session_revoked", "disconnect"))
    status, _ = await api(http, server, "POST", "/api/auth/logout", user)
    assert status == 204
    await live.recorder.wait_for("disconnect")
    assert await bearer_status(http, server, user.access_token) == 401
    assert await cookie_status(server, user.access_token) == 401
    assert (await refused(server, {"token": user.access_token}))["data"]["code"] == "invalid_token"
    ack = await authenticate_event(server, sio_connect, user.access_token)
    assert ack["ok"] is False
    status, _ = await api(
        http, server, "POST", "/api/auth/refresh", json={"refreshToken": user.refresh_token}
    )
    assert status == 401


async def test_logout_is_honoured_by_every_instance(start_server, http, register, sio_connect):
    """Two instances sharing Redis: logging out on one kills the session on the other,
    its REST access and its live sockets there."""
    a = await start_server(redis_url=REDIS_URL, instance_id="a")
    b = await start_server(redis_url=REDIS_URL, instance_id="b")
    user = await register(a)
    on_b = await sio_connect(b, user.access_token, events=("session_revoked", "disconnect"))
    assert await bearer_status(http, b, user.access_token) == 200
    status, _ = await api(http, a, "POST", "/api/auth/logout", user)
    assert status == 204
    await on_b.recorder.wait_for("session_revoked", timeout=10)
    await on_b.recorder.wait_for("disconnect", timeout=10)
    assert await bearer_status(http, b, user.access_token) == 401
    assert (await refused(b, {"token": user.access_token}))["data"]["code"] == "invalid_token"
    status, _ = await api(
        http, b, "POST", "/api/auth/refresh", json={"refreshToken": user.refresh_token}
    )
    assert status == 401


async def test_stolen_refresh_token_replayed_after_rotation_kills_the_session(
    start_server, http, register, sio_connect
):
    """With the grace window off (REFRESH_REUSE_GRACE=0), the thief's replay and the
    victim's next refresh both fail, and the victim's sockets of that session are closed:
    the family is burnt. (The 10 s grace window is tested in tests/api/test_auth.py.)"""
    server = await start_server(refresh_reuse_grace_s=0)
    victim = await register(server)
    stolen = victim.refresh_token
    status, rotated = await api(
        http, server, "POST", "/api/auth/refresh", json={"refreshToken": stolen}
    )
    assert status == 200
    socket = await sio_connect(server, rotated["accessToken"], events=("disconnect",))
    status, body = await api(
        http, server, "POST", "/api/auth/refresh", json={"refreshToken": stolen}
    )
    assert status == 401 and body["error"]["code"] == "invalid_token", body
    await socket.recorder.wait_for("disconnect")
    for token in (rotated["refreshToken"], stolen):
        status, _ = await api(
            http, server, "POST", "/api/auth/refresh", json={"refreshToken": token}
        )
        assert status == 401
    assert await bearer_status(http, server, rotated["accessToken"]) == 401


# -- brute force ---------------------------------------------------------------------------


async def login(http, server, identifier: str, password: str, ip: str) -> tuple[int, Any]:
    async with http.post(
        f"{server.url}/api/auth/login",
        json={"email": identifier, "password": password},
        headers={"X-Forwarded-For": ip},  # the test client is the trusted local proxy
    ) as resp:
        return resp.status, await resp.json()


def ip(n: int) -> str:
    return f"198.51.100.{n % 250 + 1}"


async def test_login_is_throttled_per_account_across_ips(start_server, http, register):
    server = await start_server(rate_limit_login_account="5/hour", rate_limit_login="1000/hour")
    victim = await register(server)
    bystander = await register(server)
    ghost = f"nobody_{uuid.uuid4().hex[:8]}@example.test"
    for target in (victim.email, ghost):
        answers = [await login(http, server, target, "wrong password!", ip(i)) for i in range(5)]
        assert [s for s, _ in answers] == [401] * 5
        assert len({json.dumps(b, sort_keys=True) for _, b in answers}) == 1
        status, body = await login(http, server, target, "wrong password!", ip(99))
        assert status == 429 and body["error"]["code"] == "rate_limited", body
    # The right password from a fresh IP is throttled too while the account is locked...
    status, body = await login(http, server, victim.email, PASSWORD, ip(120))
    assert status == 429, body
    # ...the same account by another spelling of the same identifier as well...
    status, _ = await login(http, server, victim.email.upper(), PASSWORD, ip(121))
    assert status == 429
    # ...but other accounts are not affected.
    status, _ = await login(http, server, bystander.email, PASSWORD, ip(122))
    assert status == 200


async def test_successful_logins_do_not_count_against_the_account(start_server, http, register):
    server = await start_server(rate_limit_login_account="3/hour", rate_limit_login="1000/hour")
    user = await register(server)
    for i in range(6):
        status, _ = await login(http, server, user.email, PASSWORD, ip(i))
        assert status == 200


async def test_login_is_throttled_per_ip_across_accounts(start_server, http, register):
    server = await start_server(rate_limit_login="4/hour", rate_limit_login_account="1000/hour")
    users = [await register(server) for _ in range(5)]
    statuses = [
        (await login(http, server, u.email, "bad password!", "203.0.113.7"))[0] for u in users
    ]
    assert statuses == [401, 401, 401, 401, 429]


async def test_unknown_account_and_wrong_password_cost_the_same(
    start_server, http, register, monkeypatch
):
    """No user enumeration: the same answer, and one bcrypt verification either way (no
    timing assertion: the work done is what is compared)."""
    server = await start_server()
    user = await register(server)
    real_checkpw = bcrypt.checkpw
    calls: list[int] = []

    def counting_checkpw(password: bytes, hashed: bytes) -> bool:
        calls.append(len(hashed))
        return real_checkpw(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting_checkpw)
    # Warm up the dummy hash used for unknown accounts (made once per process).
    await login(http, server, "warmup@example.test", "whatever pw", ip(1))
    answers = {}
    for label, identifier in [
        ("wrong password", user.email),
        ("unknown email", f"ghost_{uuid.uuid4().hex[:6]}@example.test"),
        ("unknown username", f"ghost_{uuid.uuid4().hex[:6]}"),
    ]:
        calls.clear()
        answers[label] = await login(http, server, identifier, "not the password", ip(2))
        assert len(calls) == 1, (label, calls)
        assert calls[0] == 60  # a real bcrypt hash was checked, not a shortcut
    assert len({json.dumps(a, sort_keys=True) for a in answers.values()}) == 1
    assert answers["wrong password"][0] == 401


# -- passwords -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "ok"),
    [
        ("a" * 72, True),
        ("a" * 73, False),  # bcrypt would silently ignore byte 73 onwards
        ("é" * 36, True),  # 72 bytes
        ("é" * 36 + "a", False),  # 73 bytes, 37 characters
        ("\U0001f600" * 18, True),  # 72 bytes of emoji
        ("\U0001f600" * 18 + "a", False),
        ("short", False),
        ("seven77", False),
        ("pass\x00word123", False),
        ("line\nbreak123", False),
    ],
)
async def test_password_rules(server, http, password, ok):
    name = unique_name()
    status, body = await api(
        http,
        server,
        "POST",
        "/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": password},
    )
    if ok:
        assert status == 201, body
        status, _ = await api(
            http, server, "POST", "/api/auth/login", json={"email": name, "password": password}
        )
        assert status == 200
        # A password differing only past byte 72 is a different password.
        status, _ = await api(
            http,
            server,
            "POST",
            "/api/auth/login",
            json={"email": name, "password": password + "x"},
        )
        assert status == 401
    else:
        assert status == 400, body
        assert "password" in body["error"]["fields"], body


async def test_password_change_enforces_the_rules_and_the_current_password(server, http, register):
    user = await register(server)
    for changes, expected in (
        ({"password": "b" * 73, "currentPassword": PASSWORD}, 400),
        ({"password": "new password 1"}, 400),
        ({"password": "new password 1", "currentPassword": "wrong"}, 403),
    ):
        status, body = await api(http, server, "PUT", "/api/users/me", user, json=changes)
        assert status == expected, (changes, body)
    status, _ = await api(
        http, server, "POST", "/api/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert status == 200


async def test_a_password_change_locks_out_every_other_session(server, http, register, sio_connect):
    """The victim changes their password after noticing a stolen session: the thief's
    refresh and access tokens die and the thief's sockets are closed; the victim's own
    session goes on."""
    victim = await register(server)
    status, thief = await api(
        http, server, "POST", "/api/auth/login", json={"email": victim.email, "password": PASSWORD}
    )
    assert status == 200
    thief_socket = await sio_connect(
        server, thief["accessToken"], events=("session_revoked", "disconnect")
    )
    status, body = await api(
        http,
        server,
        "PUT",
        "/api/users/me",
        victim,
        json={"password": "a brand new secret", "currentPassword": PASSWORD},
    )
    assert status == 200, body
    await thief_socket.recorder.wait_for("disconnect")
    assert await bearer_status(http, server, thief["accessToken"]) == 401
    status, _ = await api(
        http, server, "POST", "/api/auth/refresh", json={"refreshToken": thief["refreshToken"]}
    )
    assert status == 401
    # The session that changed the password is untouched.
    assert await bearer_status(http, server, victim.access_token) == 200
    status, _ = await api(
        http, server, "POST", "/api/auth/refresh", json={"refreshToken": victim.refresh_token}
    )
    assert status == 200
    # A profile change without a new password ends nothing.
    status, other = await api(
        http,
        server,
        "POST",
        "/api/auth/login",
        json={"email": victim.email, "password": "a brand new secret"},
    )
    status, _ = await api(
        http, server, "PUT", "/api/users/me", victim, json={"displayName": "Victim"}
    )
    assert status == 200
    assert await bearer_status(http, server, other["accessToken"]) == 200


# -- cookies, CSRF, CORS ----------------------------------------------------------------------


async def test_cookies_are_secure_in_production(start_server, http):
    server = await start_server(env="production", jwt_secret="p" * 64)
    name = unique_name()
    async with http.post(
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
    ) as resp:
        assert resp.status == 201
        assert resp.headers["Strict-Transport-Security"].startswith("max-age=")
        cookies = resp.cookies
    access, refresh = cookies["chat_access"], cookies["chat_refresh"]
    for morsel in (access, refresh):
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
    assert access["samesite"] == "Lax"
    assert refresh["samesite"] == "Strict"
    assert refresh["path"] == "/api/auth"
    async with http.post(
        f"{server.url}/api/auth/logout", headers={"Authorization": f"Bearer {access.value}"}
    ) as resp:
        assert resp.status == 204
        cleared = resp.cookies
    assert cleared["chat_access"].value == "" and cleared["chat_refresh"].value == ""


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


async def test_csrf_every_cookie_authenticated_write_needs_our_origin(start_server, register, http):
    """Every state-changing route, called with the victim's cookies from a foreign page
    (Origin or Referer of another site), is refused with 403 and changes nothing; the
    same call from our own origin or an allowed one gets through the CSRF check."""
    allowed = "https://app.example"
    server = await start_server(cors_origins=(allowed,))
    owner = await register(server)
    room = await create_room(http, server, owner, private=True)
    before = await post_message(http, server, owner, room["id"], "before")
    ids = {
        "id": room["id"],
        "userId": (await register(server)).id,
        "name": "0" * 32 + ".png",
        "messageId": before["id"],
        "emoji": "%F0%9F%91%8D",
    }
    # Logout last: from our own origin it really ends the session.
    writes = sorted(
        (op for op in OPERATIONS if op.method != "get" and op.auth),
        key=lambda op: op.path == "/api/auth/logout",
    )
    assert len(writes) >= 10

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.post(
            f"{server.url}/api/auth/login", json={"email": owner.email, "password": PASSWORD}
        ) as resp:
            assert resp.status == 200
        for op in writes:
            url = server.url + _fill(op.path, ids)
            for headers in (
                {"Origin": EVIL},
                {"Referer": EVIL + "/attack.html"},
                {"Origin": "null"},
                {"Origin": server.url + ".evil.example"},
            ):
                async with browser.request(op.method, url, json={}, headers=headers) as resp:
                    body = await resp.json()
                    assert resp.status == 403, (op.method, op.path, headers, body)
                    assert body["error"]["code"] == "forbidden"
        # Nothing changed: still the owner, one message, the session alive.
        status, body = await api(http, server, "GET", f"/api/rooms/{room['id']}/messages", owner)
        assert status == 200 and [m["content"] for m in body["messages"]] == ["before"], body
        assert body["messages"][0]["changeSeq"] == 0, body  # not edited, reacted or pinned
        async with browser.get(f"{server.url}/api/users/me") as resp:
            assert resp.status == 200
        # Our own origin and the allow-listed one pass the CSRF check (the calls then fail
        # or succeed on their own merits, never as a cross-site request).
        for op in writes:
            url = server.url + _fill(op.path, ids)
            for origin in (server.url, allowed):
                async with browser.request(
                    op.method, url, json={}, headers={"Origin": origin}
                ) as resp:
                    if resp.status == 403:
                        body = await resp.json()
                        assert body["error"]["message"] != "Cross-site request refused", op.path


async def test_csrf_cookie_refresh_and_logout_from_a_foreign_site(server, register):
    jar = aiohttp.CookieJar(unsafe=True)
    user = await register(server)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        async with browser.post(
            f"{server.url}/api/auth/login", json={"email": user.email, "password": PASSWORD}
        ):
            pass
        for path in ("/api/auth/refresh", "/api/auth/logout"):
            async with browser.post(server.url + path, headers={"Origin": EVIL}) as resp:
                assert resp.status == 403, path
        async with browser.get(f"{server.url}/api/users/me") as resp:
            assert resp.status == 200  # the session survived


async def test_cors_preflight_answered_only_for_allowed_origins(start_server, http):
    allowed = "https://app.example"
    server = await start_server(cors_origins=(allowed,))
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    for path in ("/api/rooms", f"/api/rooms/{LOBBY_ID}/messages", "/api/auth/login"):
        async with http.options(server.url + path, headers={"Origin": allowed, **preflight}) as r:
            assert r.status == 200, path
            assert r.headers["Access-Control-Allow-Origin"] == allowed
            assert r.headers["Access-Control-Allow-Credentials"] == "true"
            assert "AUTHORIZATION" in r.headers["Access-Control-Allow-Headers"].upper()
        async with http.options(server.url + path, headers={"Origin": EVIL, **preflight}) as r:
            assert r.status == 403, path
            assert "Access-Control-Allow-Origin" not in r.headers
    # Simple requests: the allowed origin may read the answer, a foreign one may not.
    async with http.get(f"{server.url}/api/users/me", headers={"Origin": allowed}) as r:
        assert r.headers["Access-Control-Allow-Origin"] == allowed
    async with http.get(f"{server.url}/api/users/me", headers={"Origin": EVIL}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers


async def test_without_cors_origins_nothing_cross_origin_is_allowed(server, http):
    preflight = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    async with http.options(f"{server.url}/api/rooms", headers=preflight) as r:
        assert r.status in (403, 405)
        assert "Access-Control-Allow-Origin" not in r.headers
    async with http.get(f"{server.url}/health/live", headers={"Origin": EVIL}) as r:
        assert "Access-Control-Allow-Origin" not in r.headers


async def _handshake(http, server, origin: str, transport: str) -> bool:
    """Whether Engine.IO accepts a handshake from `origin` (raw, so a refusal is quick)."""
    url = f"{server.url}/socket.io/?EIO=4&transport={transport}"
    if transport == "polling":
        async with http.get(url, headers={"Origin": origin}) as resp:
            return resp.status == 200
    try:
        ws = await http.ws_connect(url, origin=origin, timeout=aiohttp.ClientWSTimeout(ws_close=5))
    except aiohttp.WSServerHandshakeError:
        return False
    await ws.close()
    return True


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_socketio_handshake_honours_the_origin_allow_list(start_server, http, transport):
    allowed = "https://app.example"
    default = await start_server()
    # Default: same origin only.
    assert await _handshake(http, default, default.url, transport)
    assert not await _handshake(http, default, EVIL, transport)
    assert not await _handshake(http, default, allowed, transport)
    configured = await start_server(cors_origins=(allowed,))
    assert await _handshake(http, configured, allowed, transport)
    assert not await _handshake(http, configured, EVIL, transport)
    assert not await _handshake(http, configured, "null", transport)


async def test_the_socketio_client_from_a_foreign_origin_is_refused(server, register):
    user = await register(server)
    client = socketio.AsyncClient(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            server.url,
            namespaces=[NS],
            auth={"token": user.access_token},
            headers={"Origin": EVIL},
            transports=["websocket"],
            wait_timeout=5,
        )


async def test_token_in_the_query_string_is_not_accepted(server, register):
    """Tokens travel in the handshake body or an httpOnly cookie, never in URLs (which end
    up in proxy logs and Referer headers)."""
    user = await register(server)
    client = socketio.AsyncClient(reconnection=False)
    got: list[Any] = []
    client.on("authenticated", lambda data: got.append(data), namespace=NS)
    await client.connect(
        f"{server.url}?token={user.access_token}",
        namespaces=[NS],
        transports=["websocket"],
        wait_timeout=5,
    )
    ack = await call(client, "send_message", {"roomId": LOBBY_ID, "content": "x"})
    assert ack["ok"] is False and ack["error"]["code"] == "unauthenticated"
    await client.disconnect()
