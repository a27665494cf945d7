"""Abuse limits beyond the seed's (those - register, login, messages, uploads - are tested
in tests/api/test_rate_limits.py and tests/api/test_uploads.py): room creation, invites,
typing events and live connections per user, each alone and cluster-wide through Redis;
plus oversized requests and header floods refused by aiohttp's limits, and slow clients
that cannot starve others."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
import socketio

from chat_server.config import Config
from tests.chat_helpers import api, call, create_room
from tests.conftest import LOBBY_ID, REDIS_URL
from tests.realtime.conftest import refused

NS = "/chat"


def assert_limited(status: int, body: Any) -> None:
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["retryAfter"] >= 1


async def new_room(http, server, user) -> tuple[int, Any]:
    return await api(
        http, server, "POST", "/api/rooms", user, json={"name": f"r_{uuid.uuid4().hex[:10]}"}
    )


def test_new_limits_are_configurable_from_the_environment():
    cfg = Config.from_env(
        {
            "RATE_LIMIT_LOGIN_ACCOUNT": "7/hour",
            "RATE_LIMIT_ROOMS": "3/hour",
            "RATE_LIMIT_INVITES": "4/minute",
            "RATE_LIMIT_TYPING": "30/minute",
            "MAX_CONNECTIONS_PER_USER": "5",
        }
    )
    assert (
        cfg.rate_limit_login_account,
        cfg.rate_limit_rooms,
        cfg.rate_limit_invites,
        cfg.rate_limit_typing,
        cfg.max_connections_per_user,
    ) == ("7/hour", "3/hour", "4/minute", "30/minute", 5)
    defaults = Config.from_env({})
    assert defaults.rate_limit_rooms == "30/hour"
    assert defaults.max_connections_per_user == 20


@pytest.mark.parametrize("redis", [False, True], ids=["single", "cluster"])
async def test_room_creation_is_limited_per_user(start_server, http, register, redis):
    extra = {"redis_url": REDIS_URL} if redis else {}
    a = await start_server(rate_limit_rooms="3/hour", **extra)
    b = await start_server(rate_limit_rooms="3/hour", **extra) if redis else a
    user, other = await register(a), await register(a)
    statuses = [(await new_room(http, s, user))[0] for s in (a, b, a)]
    assert statuses == [201, 201, 201]
    assert_limited(*await new_room(http, b, user))  # the other instance knows
    assert (await new_room(http, a, other))[0] == 201  # per user
    # Refused input does not use up the allowance.
    status, _ = await api(http, a, "POST", "/api/rooms", other, json={"name": ""})
    assert status == 400


@pytest.mark.parametrize("redis", [False, True], ids=["single", "cluster"])
async def test_invites_are_limited_per_user(start_server, http, register, redis):
    extra = {"redis_url": REDIS_URL} if redis else {}
    a = await start_server(rate_limit_invites="2/hour", **extra)
    b = await start_server(rate_limit_invites="2/hour", **extra) if redis else a
    owner = await register(a)
    room = await create_room(http, a, owner, private=True)
    guests = [await register(a) for _ in range(3)]
    for server, guest in zip((a, b), guests[:2], strict=True):
        status, body = await api(
            http,
            server,
            "POST",
            f"/api/rooms/{room['id']}/invites",
            owner,
            json={"userId": guest.id},
        )
        assert status == 201, body
    assert_limited(
        *await api(
            http,
            b,
            "POST",
            f"/api/rooms/{room['id']}/invites",
            owner,
            json={"userId": guests[2].id},
        )
    )
    status, body = await api(http, a, "GET", "/api/invites", guests[2])
    assert body["invites"] == []


@pytest.mark.parametrize("redis", [False, True], ids=["single", "cluster"])
async def test_typing_events_are_limited_per_user(start_server, register, sio_connect, redis):
    extra = {"redis_url": REDIS_URL} if redis else {}
    a = await start_server(rate_limit_typing="4/minute", **extra)
    b = await start_server(rate_limit_typing="4/minute", **extra) if redis else a
    user, watcher = await register(a), await register(a)
    on_a = await sio_connect(a, user.access_token)
    on_b = await sio_connect(b, user.access_token)
    other = await sio_connect(a, watcher.access_token, events=("user_typing",))
    acks = []
    for client in (on_a, on_b, on_a, on_b, on_a, on_b):
        acks.append(await call(client, "typing_start", {"roomId": LOBBY_ID}))
    codes = [a["error"]["code"] if not a["ok"] else "ok" for a in acks]
    assert codes == ["ok"] * 4 + ["rate_limited"] * 2, codes
    assert acks[-1]["error"]["retryAfter"] >= 1
    # Another user may still type.
    assert (await call(other, "typing_start", {"roomId": LOBBY_ID}))["ok"] is True


@pytest.mark.parametrize("redis", [False, True], ids=["single", "cluster"])
async def test_connections_are_limited_per_user(start_server, register, sio_connect, redis):
    extra = {"redis_url": REDIS_URL} if redis else {}
    a = await start_server(max_connections_per_user=3, **extra)
    b = await start_server(max_connections_per_user=3, **extra) if redis else a
    user, other = await register(a), await register(a)
    first = await sio_connect(a, user.access_token)
    await sio_connect(b, user.access_token)
    await sio_connect(a, user.access_token)
    for server in (a, b):
        error = await refused(server, {"token": user.access_token})
        assert error["message"] == "Too many connections"
        assert error["data"]["code"] == "too_many_connections"
    # The authenticate-event route to a connection is limited the same way.
    anonymous = await sio_connect(b, None)
    ack = await call(anonymous, "authenticate", {"token": user.access_token})
    assert ack["ok"] is False and ack["error"]["code"] == "too_many_connections", ack
    # Others are not affected, and closing a tab makes room.
    assert (await sio_connect(b, other.access_token)).connected
    await first.disconnect()
    for _ in range(50):
        try:
            again = await sio_connect(a, user.access_token)
            break
        except socketio.exceptions.ConnectionError:
            await asyncio.sleep(0.1)
    assert again.connected


# -- oversized and slow requests ----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "auth"),
    [
        ("POST", "/api/auth/register", False),
        ("POST", "/api/auth/login", False),
        ("POST", "/api/rooms", True),
        ("PUT", "/api/users/me", True),
        ("POST", f"/api/rooms/{LOBBY_ID}/messages", True),
    ],
)
async def test_a_200kb_json_body_is_413(server, http, register, method, path, auth):
    user = await register(server)
    body = b'{"name":"' + b"a" * 200_000 + b'"}'
    for chunked in (False, True):
        data: Any = body
        if chunked:

            async def gen() -> Any:
                for i in range(0, len(body), 8192):
                    yield body[i : i + 8192]

            data = gen()
        headers = {"Content-Type": "application/json", **(user.headers if auth else {})}
        async with http.request(method, server.url + path, data=data, headers=headers) as r:
            answer = await r.json()
            assert r.status == 413, (chunked, answer)
            assert answer["error"]["code"] == "too_large"


async def _raw(server, data: bytes, *, read: bool = True) -> bytes:
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for i in range(0, len(data), 16384):
            writer.write(data[i : i + 16384])
            await writer.drain()
        return await asyncio.wait_for(reader.read(200), 10) if read else b""
    except (ConnectionResetError, BrokenPipeError):
        return b"reset"
    finally:
        writer.close()


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"GET /health/live HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(5000))
            + b"\r\n",
            id="5000 headers",
        ),
        pytest.param(
            b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
            id="100 KB header",
        ),
        pytest.param(
            b"GET /" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", id="100 KB request line"
        ),
        pytest.param(
            b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 2_000_000,
            id="endless header",
        ),
    ],
)
async def test_header_floods_are_refused(server, http, request_bytes):
    answer = await _raw(server, request_bytes)
    assert answer == b"reset" or answer.split(b"\r\n")[0].split(b" ")[1] in (b"400", b"431")
    async with http.get(f"{server.url}/health/live") as resp:
        assert resp.status == 200


async def test_slow_clients_do_not_starve_others(server, http):
    """Slowloris: many connections that never finish their headers. Each costs a bounded
    buffer here (at most aiohttp's 8 KB header line); closing them after a time limit is
    HAProxy's job in production (`timeout http-request 10s`, haproxy.cfg)."""
    host, port = server.url.removeprefix("http://").split(":")
    writers = []
    try:
        for _ in range(60):
            _, writer = await asyncio.open_connection(host, int(port))
            writer.write(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            writers.append(writer)
        for round_ in range(3):
            for writer in writers:
                writer.write(b"a" * 10)
                await writer.drain()
            async with http.get(f"{server.url}/health/live") as resp:
                assert resp.status == 200, round_
            await asyncio.sleep(0.05)
    finally:
        for writer in writers:
            writer.close()
