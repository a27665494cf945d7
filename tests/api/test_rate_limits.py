"""Rate limits: 429 with Retry-After over HTTP, `rate_limited` acks over Socket.IO, client IP
from X-Forwarded-For only via trusted proxies, and counters shared through Redis."""

from __future__ import annotations

import random
import uuid

from chat_server.api.keys import CONFIG
from tests.conftest import LOBBY_ID, PASSWORD, REDIS_URL, unique_name

NS = "/chat"
MESSAGES = f"/api/rooms/{LOBBY_ID}/messages"


def random_ip() -> str:
    """A random private address: a client IP no other test is likely to use."""
    return f"10.{random.randint(0, 255)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


async def register_raw(http, server, headers=None):
    name = unique_name()
    async with http.post(
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
        headers=headers or {},
    ) as resp:
        return resp.status, await resp.json(), resp.headers


async def login_raw(http, server, user, headers=None, password=None):
    async with http.post(
        f"{server.url}/api/auth/login",
        json={"email": user.email, "password": password or user.password},
        headers=headers or {},
    ) as resp:
        return resp.status, await resp.json(), resp.headers


def assert_rate_limited(status, body, headers, max_retry_after: int):
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["message"]
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= max_retry_after
    assert body["error"].get("retryAfter", retry_after) == retry_after


async def test_register_limit_per_ip(start_server, http):
    server = await start_server(rate_limit_register="2/hour")
    for _ in range(2):
        status, body, _ = await register_raw(http, server)
        assert status == 201, body
    status, body, headers = await register_raw(http, server)
    assert_rate_limited(status, body, headers, 3600)
    # Still limited on the next try: nothing was created meanwhile.
    status, body, headers = await register_raw(http, server)
    assert status == 429


async def test_invalid_registrations_are_not_counted(start_server, http):
    server = await start_server(rate_limit_register="2/hour")
    for _ in range(3):
        async with http.post(f"{server.url}/api/auth/register", json={"email": "bad"}) as resp:
            assert resp.status == 400
    for _ in range(2):
        status, body, _ = await register_raw(http, server)
        assert status == 201, body


async def test_login_limit_per_ip(start_server, http, register):
    server = await start_server(rate_limit_login="3/hour")
    user = await register(server)
    assert (await login_raw(http, server, user))[0] == 200
    assert (await login_raw(http, server, user, password="wrong password"))[0] == 401
    assert (await login_raw(http, server, user))[0] == 200
    status, body, headers = await login_raw(http, server, user)  # correct password, but limited
    assert_rate_limited(status, body, headers, 3600)
    # Another client IP (via the trusted local proxy) is not affected.
    status, _, _ = await login_raw(http, server, user, headers={"X-Forwarded-For": random_ip()})
    assert status == 200


async def test_message_limit_over_http(start_server, http, register):
    server = await start_server(rate_limit_messages="3/minute")
    user = await register(server)
    other = await register(server)
    for i in range(3):
        async with http.post(
            f"{server.url}{MESSAGES}", json={"content": f"m{i}"}, headers=user.headers
        ) as resp:
            assert resp.status == 201
    async with http.get(f"{server.url}{MESSAGES}?limit=1", headers=user.headers) as resp:
        seq_before = (await resp.json())["lastSeq"]
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "too many"}, headers=user.headers
    ) as resp:
        assert_rate_limited(resp.status, await resp.json(), resp.headers, 60)
    async with http.get(f"{server.url}{MESSAGES}?limit=1", headers=user.headers) as resp:
        assert (await resp.json())["lastSeq"] == seq_before  # nothing stored
    # The limit is per user: someone else may still talk.
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "me too"}, headers=other.headers
    ) as resp:
        assert resp.status == 201


async def test_retry_of_a_stored_message_is_not_limited(start_server, http, register):
    server = await start_server(rate_limit_messages="1/minute")
    user = await register(server)
    client_id = str(uuid.uuid4())
    async with http.post(
        f"{server.url}{MESSAGES}",
        json={"content": "x", "clientMsgId": client_id},
        headers=user.headers,
    ) as resp:
        assert resp.status == 201
        original = (await resp.json())["message"]
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "new"}, headers=user.headers
    ) as resp:
        assert resp.status == 429
    async with http.post(
        f"{server.url}{MESSAGES}",
        json={"content": "x", "clientMsgId": client_id},
        headers=user.headers,
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["message"]["id"] == original["id"]


async def test_message_limit_over_socket(start_server, register, sio_connect):
    server = await start_server(rate_limit_messages="3/minute")
    user = await register(server)
    sock = await sio_connect(server, user.access_token)
    for i in range(3):
        ack = await sock.call(
            "send_message", {"roomId": LOBBY_ID, "content": f"s{i}"}, namespace=NS, timeout=10
        )
        assert ack["ok"] is True, ack
    ack = await sock.call(
        "send_message", {"roomId": LOBBY_ID, "content": "s3"}, namespace=NS, timeout=10
    )
    assert ack["ok"] is False
    assert ack["error"]["code"] == "rate_limited"
    assert ack["error"]["message"]
    assert 1 <= ack["error"]["retryAfter"] <= 60
    # The connection stays usable for other events.
    ack = await sock.call("sync", {"rooms": {LOBBY_ID: 0}}, namespace=NS, timeout=10)
    assert ack["ok"] is True, ack
    assert sock.connected


async def test_http_and_socket_share_the_message_limit(start_server, http, register, sio_connect):
    server = await start_server(rate_limit_messages="2/minute")
    user = await register(server)
    sock = await sio_connect(server, user.access_token)
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "http"}, headers=user.headers
    ) as resp:
        assert resp.status == 201
    ack = await sock.call(
        "send_message", {"roomId": LOBBY_ID, "content": "sock"}, namespace=NS, timeout=10
    )
    assert ack["ok"] is True
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "http2"}, headers=user.headers
    ) as resp:
        assert resp.status == 429
    ack = await sock.call(
        "send_message", {"roomId": LOBBY_ID, "content": "sock2"}, namespace=NS, timeout=10
    )
    assert ack["error"]["code"] == "rate_limited"


async def test_forwarded_for_from_trusted_proxy_counts_per_client(start_server, http):
    """The default TRUSTED_PROXIES is 127.0.0.1, which is where the test client connects from."""
    server = await start_server(rate_limit_register="2/hour")
    assert "127.0.0.1" in server.app[CONFIG].trusted_proxies
    a, b = random_ip(), random_ip()
    while b == a:
        b = random_ip()
    for _ in range(2):
        assert (await register_raw(http, server, {"X-Forwarded-For": a}))[0] == 201
    status, body, headers = await register_raw(http, server, {"X-Forwarded-For": a})
    assert_rate_limited(status, body, headers, 3600)
    # A different client behind the same proxy has its own bucket.
    assert (await register_raw(http, server, {"X-Forwarded-For": b}))[0] == 201
    # Spoofing an earlier hop does not help: the proxy appends the real client last.
    status, _, _ = await register_raw(http, server, {"X-Forwarded-For": f"{b}, {a}"})
    assert status == 429
    # The proxy itself (no header) is yet another bucket.
    assert (await register_raw(http, server))[0] == 201


async def test_forwarded_for_ignored_from_untrusted_peer(start_server, http):
    server = await start_server(rate_limit_register="2/hour", trusted_proxies=frozenset())
    for _ in range(2):
        assert (await register_raw(http, server, {"X-Forwarded-For": random_ip()}))[0] == 201
    status, body, headers = await register_raw(http, server, {"X-Forwarded-For": random_ip()})
    assert_rate_limited(status, body, headers, 3600)
    status, _, _ = await register_raw(http, server)
    assert status == 429


async def test_garbage_forwarded_for_falls_back_to_the_peer(start_server, http):
    server = await start_server(rate_limit_register="1/hour")
    assert (await register_raw(http, server, {"X-Forwarded-For": "not-an-ip"}))[0] == 201
    # Counted against the peer (127.0.0.1), so the peer is now limited.
    assert (await register_raw(http, server))[0] == 429
    assert (await register_raw(http, server, {"X-Forwarded-For": "also garbage"}))[0] == 429


async def test_limit_is_shared_by_instances_through_redis(start_server, http):
    """Counters live in Redis (DB 15 of the test server); a random client IP per run keeps
    reruns and parallel runs from sharing a bucket, so nothing needs flushing."""
    one = await start_server(rate_limit_register="2/hour", redis_url=REDIS_URL)
    two = await start_server(rate_limit_register="2/hour", redis_url=REDIS_URL)
    ip = random_ip()
    xff = {"X-Forwarded-For": ip}
    assert (await register_raw(http, one, xff))[0] == 201
    assert (await register_raw(http, two, xff))[0] == 201
    status, body, headers = await register_raw(http, one, xff)
    assert_rate_limited(status, body, headers, 3600)
    status, body, headers = await register_raw(http, two, xff)
    assert_rate_limited(status, body, headers, 3600)
    # Another client is unaffected on both instances.
    assert (await register_raw(http, two, {"X-Forwarded-For": random_ip()}))[0] == 201


async def test_message_limit_shared_through_redis(start_server, http, register):
    one = await start_server(rate_limit_messages="2/minute", redis_url=REDIS_URL)
    two = await start_server(rate_limit_messages="2/minute", redis_url=REDIS_URL)
    user = await register(one)
    for server in (one, two):
        async with http.post(
            f"{server.url}{MESSAGES}", json={"content": "x"}, headers=user.headers
        ) as resp:
            assert resp.status == 201
    for server in (one, two):
        async with http.post(
            f"{server.url}{MESSAGES}", json={"content": "y"}, headers=user.headers
        ) as resp:
            assert resp.status == 429
