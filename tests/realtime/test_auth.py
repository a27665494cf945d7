"""Socket authentication (docs/contract.md §6): handshake token, the `authenticate` event, the
unauthenticated timeout, refused tokens, extending a live session, logout."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
import socketio

from chat_server.api.keys import CONFIG
from chat_server.realtime import namespace
from chat_server.services.tokens import JWT_ALGORITHM, TokenCodec
from tests.conftest import LOBBY_ID
from tests.realtime.conftest import call, refused, send


async def test_handshake_token_authenticates(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token)
    message = await send(client, "hello from the handshake")
    assert message["userId"] == alice.id
    assert message["username"] == alice.username


async def test_authenticate_event_after_tokenless_connect(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, events=("authenticated", "auth_error"))
    assert client.connected

    ack = await call(client, "authenticate", {"token": alice.access_token})

    assert ack == {"ok": True, "userId": alice.id, "username": alice.username}
    got = await client.recorder.wait_for("authenticated")
    assert got == [{"userId": alice.id, "username": alice.username}]
    assert client.recorder.events["auth_error"] == []
    message = await send(client, "authenticated by event")
    assert message["userId"] == alice.id


async def test_authenticate_event_enters_the_users_rooms(server, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    listener = await sio_connect(server, events=("new_message",))
    assert (await call(listener, "authenticate", {"token": bob.access_token}))["ok"] is True
    sender = await sio_connect(server, alice.access_token)

    sent = await send(sender, "reaches a socket authenticated by event")

    got = await listener.recorder.wait_for("new_message")
    assert got[0]["message"]["id"] == sent["id"]


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("send_message", {"roomId": LOBBY_ID, "content": "sneaky"}),
        ("sync", {"rooms": {LOBBY_ID: 0}}),
        ("join_room", {"roomId": LOBBY_ID}),
        ("leave_room", {"roomId": LOBBY_ID}),
        ("typing_start", {"roomId": LOBBY_ID}),
        ("typing_stop", {"roomId": LOBBY_ID}),
        ("mark_read", {"roomId": LOBBY_ID, "seq": 1}),
        ("send_dm", {"recipientId": LOBBY_ID, "content": "sneaky"}),
    ],
)
async def test_events_before_authenticating_are_refused(
    server, register, sio_connect, http, event, payload
):
    client = await sio_connect(server)

    ack = await call(client, event, payload)

    assert ack["ok"] is False
    assert ack["error"]["code"] == "unauthenticated"
    # The socket can still authenticate afterwards and nothing was stored.
    alice = await register(server)
    assert (await call(client, "authenticate", {"token": alice.access_token}))["ok"] is True
    async with http.get(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages", headers=alice.headers
    ) as resp:
        body = await resp.json()
    assert all(m["content"] != "sneaky" for m in body["messages"])


async def test_unauthenticated_socket_is_dropped_after_the_timeout(
    server, sio_connect, monkeypatch
):
    monkeypatch.setattr(namespace, "AUTH_TIMEOUT_S", 1.0)
    client = await sio_connect(server, events=("auth_error", "disconnect"))

    await client.recorder.wait_for("disconnect", timeout=10)

    assert client.recorder.events["auth_error"][0]["code"] == "auth_timeout"
    assert not client.connected


async def test_authenticated_socket_is_not_dropped_by_the_auth_timeout(
    server, register, sio_connect, monkeypatch
):
    monkeypatch.setattr(namespace, "AUTH_TIMEOUT_S", 0.5)
    alice = await register(server)
    client = await sio_connect(server, events=("disconnect",))
    assert (await call(client, "authenticate", {"token": alice.access_token}))["ok"] is True

    # Outlive the timeout by a wide margin; a later ack proves the socket is still served.
    await asyncio.sleep(1.5)

    await send(client, "still here")
    assert client.recorder.events["disconnect"] == []


def _forge(secret: str, **claims: object) -> str:
    now = int(time.time())
    body: dict[str, object] = {
        "sub": "00000000-0000-4000-8000-0000000000aa",
        "name": "mallory",
        "sid": "00000000-0000-4000-8000-0000000000bb",
        "jti": "j1",
        "type": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    body.update(claims)
    return jwt.encode(body, secret, algorithm=JWT_ALGORITHM)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("garbage", "invalid_token"),
        ("wrong_secret", "invalid_token"),
        ("alg_none", "invalid_token"),
        ("refresh_type", "invalid_token"),
        ("expired", "token_expired"),
        ("non_string", "invalid_token"),
        ("empty", "invalid_token"),
        ("huge", "invalid_token"),
    ],
)
async def test_bad_tokens_are_refused_at_the_handshake(server, case, code):
    secret = server.app[CONFIG].jwt_secret
    tokens: dict[str, object] = {
        "garbage": "not-a-jwt",
        "wrong_secret": _forge("another-secret-" + "y" * 40),
        "alg_none": jwt.encode(
            {"sub": "00000000-0000-4000-8000-0000000000aa", "type": "access"},
            None,
            algorithm="none",
        ),
        "refresh_type": _forge(secret, type="refresh"),
        "expired": TokenCodec(secret, -3600).issue_access(
            "00000000-0000-4000-8000-0000000000aa",
            "mallory",
            "00000000-0000-4000-8000-0000000000bb",
        )[0],
        "non_string": 12345,
        "empty": "",
        "huge": "a" * 10_000,
    }

    error = await refused(server, {"token": tokens[case]})

    assert error["message"] == "Invalid token"
    assert error["data"]["code"] == code


async def test_bad_token_is_refused_over_long_polling(start_server):
    # A polling client's disconnect waits for its pending long-poll, which the server holds
    # for up to ping interval + timeout: keep those short so the test stays quick.
    server = await start_server(ping_interval_s=1.0, ping_timeout_s=2.0)
    error = await refused(server, {"token": "not-a-jwt"}, transports=["polling"])
    assert error["message"] == "Invalid token"
    assert error["data"]["code"] == "invalid_token"


async def test_logout_blacklists_the_token_and_drops_its_sockets(
    server, register, sio_connect, http
):
    alice = await register(server)
    live = await sio_connect(server, alice.access_token, events=("session_revoked", "disconnect"))

    async with http.post(f"{server.url}/api/auth/logout", headers=alice.headers) as resp:
        assert resp.status == 204

    await live.recorder.wait_for("disconnect")
    assert live.recorder.events["session_revoked"] == [{"reason": "logged_out"}]
    error = await refused(server, {"token": alice.access_token})
    assert error["message"] == "Invalid token"
    assert error["data"]["code"] == "invalid_token"
    # The blacklisted token is refused by the `authenticate` event as well.
    anon = await sio_connect(server, events=("auth_error",))
    ack = await call(anon, "authenticate", {"token": alice.access_token})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_token"
    assert (await anon.recorder.wait_for("auth_error"))[0]["code"] == "invalid_token"


async def test_authenticate_event_with_a_bad_token_emits_auth_error(server, sio_connect):
    client = await sio_connect(server, events=("auth_error", "authenticated"))

    ack = await call(client, "authenticate", {"token": "not-a-jwt"})

    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_token"
    got = await client.recorder.wait_for("auth_error")
    assert got[0]["message"] == "Invalid token"
    assert client.recorder.events["authenticated"] == []
    # Still unauthenticated, still connected.
    ack = await call(client, "send_message", {"roomId": LOBBY_ID, "content": "x"})
    assert ack["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("payload", [None, "token", {"token": 5}, {"token": ""}, {}])
async def test_authenticate_event_validates_its_payload(server, register, sio_connect, payload):
    alice = await register(server)
    client = await sio_connect(server)

    ack = await call(client, "authenticate", payload)

    assert ack["ok"] is False
    assert ack["error"]["code"] == "validation_error"
    assert (await call(client, "authenticate", {"token": alice.access_token}))["ok"] is True


async def _refresh(http, server, user) -> str:
    async with http.post(
        f"{server.url}/api/auth/refresh", json={"refreshToken": user.refresh_token}
    ) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    user.refresh_token = body["refreshToken"]
    return body["accessToken"]  # type: ignore[no-any-return]


async def test_reauthenticate_with_a_fresh_token_extends_the_session(
    start_server, register, sio_connect, http, monkeypatch
):
    monkeypatch.setattr(namespace, "TOKEN_EXPIRY_GRACE_S", 0.3)
    server = await start_server(access_token_ttl_s=3)
    alice = await register(server)
    bob = await register(server)
    extended = await sio_connect(server, alice.access_token, events=("disconnect", "authenticated"))
    control = await sio_connect(server, bob.access_token, events=("disconnect", "auth_error"))
    original_exp = jwt.decode(alice.access_token, options={"verify_signature": False})["exp"]
    # Refresh late enough that the fresh token outlives the original by whole seconds.
    while time.time() < original_exp - 1:
        await asyncio.sleep(0.1)

    fresh = await _refresh(http, server, alice)
    assert jwt.decode(fresh, options={"verify_signature": False})["exp"] >= original_exp + 2
    ack = await call(extended, "authenticate", {"token": fresh})
    assert ack == {"ok": True, "userId": alice.id, "username": alice.username}

    # The socket that did not re-authenticate is dropped when its token runs out ...
    await control.recorder.wait_for("disconnect", timeout=10)
    assert control.recorder.events["auth_error"][0]["code"] == "token_expired"
    # ... and by then the original token of the extended socket has expired too.
    while time.time() < original_exp + namespace.TOKEN_EXPIRY_GRACE_S + 0.5:
        await asyncio.sleep(0.1)
    message = await send(extended, "still connected on the fresh token")
    assert message["userId"] == alice.id
    assert extended.recorder.events["disconnect"] == []


async def test_reauthenticate_with_another_users_token_is_refused(server, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    client = await sio_connect(server, alice.access_token, events=("auth_error", "authenticated"))

    ack = await call(client, "authenticate", {"token": bob.access_token})

    assert ack["ok"] is False
    assert ack["error"]["code"] == "invalid_token"
    assert (await client.recorder.wait_for("auth_error"))[0]["code"] == "invalid_token"
    # Only the handshake's `authenticated`, as alice: bob's token changed nothing.
    assert client.recorder.events["authenticated"] == [
        {"userId": alice.id, "username": alice.username}
    ]
    # The socket keeps its original identity.
    message = await send(client, "still alice")
    assert message["userId"] == alice.id


async def test_handshake_with_a_non_object_auth_waits_for_authenticate(
    server, register, sio_connect
):
    """`auth` without a token is treated as no token: the socket must use `authenticate`."""
    alice = await register(server)
    client = await sio_connect(server, auth={"something": "else"})
    ack = await call(client, "send_message", {"roomId": LOBBY_ID, "content": "x"})
    assert ack["error"]["code"] == "unauthenticated"
    assert (await call(client, "authenticate", {"token": alice.access_token}))["ok"] is True


async def test_refused_handshake_leaves_the_server_serving(server, register, sio_connect):
    for _ in range(3):
        await refused(server, {"token": "nope"})
    alice = await register(server)
    client = await sio_connect(server, alice.access_token)
    await send(client, "server still fine")
    assert isinstance(client, socketio.AsyncClient)
