"""Hostile and broken requests: each gets the error shape, nothing is stored, the server lives."""

from __future__ import annotations

import json

import pytest

from tests.conftest import LOBBY_ID, PASSWORD, unique_name

MESSAGES = f"/api/rooms/{LOBBY_ID}/messages"


def assert_error(body: dict, code: str | None = None) -> dict:
    assert isinstance(body, dict) and set(body) == {"error"}, body
    err = body["error"]
    assert isinstance(err.get("code"), str) and err["code"]
    assert isinstance(err.get("message"), str) and err["message"]
    assert set(err) <= {"code", "message", "fields", "retryAfter"}
    if code is not None:
        assert err["code"] == code, body
    return err


async def raw_post(http, url, data: bytes | str, headers=None):
    hdrs = {"Content-Type": "application/json", **(headers or {})}
    async with http.post(url, data=data, headers=hdrs) as resp:
        assert resp.content_type == "application/json", await resp.text()
        return resp.status, await resp.json()


async def last_seq(http, server, user) -> int:
    async with http.get(f"{server.url}{MESSAGES}?limit=1", headers=user.headers) as resp:
        assert resp.status == 200
        return (await resp.json())["lastSeq"]


@pytest.fixture
async def user(server, register):
    return await register(server)


@pytest.mark.parametrize(
    "data",
    [
        '{"content": "x"',
        "{content: 'x'}",
        "not json",
        '{"content": "x"} trailing',
        "\x00",
        "{'a': 1}",
    ],
)
async def test_malformed_json_is_400(server, http, user, data):
    before = await last_seq(http, server, user)
    status, body = await raw_post(http, f"{server.url}{MESSAGES}", data, user.headers)
    assert status == 400
    assert_error(body, "validation_error")
    assert await last_seq(http, server, user) == before


async def test_invalid_utf8_body_is_400(server, http, user):
    status, body = await raw_post(
        http, f"{server.url}{MESSAGES}", b'{"content": "\xff\xfe"}', user.headers
    )
    assert status == 400
    assert_error(body, "validation_error")


@pytest.mark.parametrize("data", ["[]", '[{"content": "x"}]', '"content"', "42", "null", "true"])
async def test_non_object_json_is_400(server, http, user, data):
    before = await last_seq(http, server, user)
    status, body = await raw_post(http, f"{server.url}{MESSAGES}", data, user.headers)
    assert status == 400, body
    assert_error(body, "validation_error")
    assert await last_seq(http, server, user) == before


@pytest.mark.parametrize("data", ["[]", "null", '"x"'])
async def test_non_object_json_on_auth_routes_is_400(server, http, data):
    for route in ("/api/auth/register", "/api/auth/login"):
        status, body = await raw_post(http, f"{server.url}{route}", data)
        assert status == 400, (route, body)
        assert_error(body, "validation_error")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"content": 5}, "content"),
        ({"content": ["a"]}, "content"),
        ({"content": {"text": "a"}}, "content"),
        ({"content": None}, "content"),
        ({"content": True}, "content"),
        ({"content": "x", "clientMsgId": 12}, "clientMsgId"),
        ({"content": "x", "messageType": "system"}, "messageType"),
        ({"content": "x", "roomId": LOBBY_ID}, "roomId"),
        ({"content": "x", "userId": "someone"}, "userId"),
    ],
)
async def test_wrong_types_are_400_with_fields(server, http, user, payload, field):
    before = await last_seq(http, server, user)
    async with http.post(f"{server.url}{MESSAGES}", json=payload, headers=user.headers) as resp:
        assert resp.status == 400
        err = assert_error(await resp.json(), "validation_error")
    assert field in err["fields"], err
    assert await last_seq(http, server, user) == before


async def test_missing_fields_are_400(server, http, user):
    async with http.post(f"{server.url}{MESSAGES}", json={}, headers=user.headers) as resp:
        assert resp.status == 400
        err = assert_error(await resp.json(), "validation_error")
    assert "content" in err["fields"]
    async with http.post(f"{server.url}{MESSAGES}", headers=user.headers) as resp:  # no body at all
        assert resp.status == 400
        assert "content" in assert_error(await resp.json(), "validation_error")["fields"]
    async with http.post(f"{server.url}/api/auth/register", json={}) as resp:
        assert resp.status == 400
        fields = assert_error(await resp.json(), "validation_error")["fields"]
    assert {"email", "username", "password"} <= set(fields)


async def test_oversize_content_is_400_and_not_stored(server, http, user):
    before = await last_seq(http, server, user)
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "x" * 5001}, headers=user.headers
    ) as resp:
        assert resp.status == 400
        assert "content" in assert_error(await resp.json(), "validation_error")["fields"]
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "x" * 5000}, headers=user.headers
    ) as resp:
        assert resp.status == 201
    assert await last_seq(http, server, user) == before + 1


@pytest.mark.parametrize("content", ["bad\x00nul", "bell\x07", "\ud800", "   \n\t "])
async def test_forbidden_characters_are_400(server, http, user, content):
    before = await last_seq(http, server, user)
    body = json.dumps({"content": content})  # ensure_ascii: NUL and lone surrogates as \u escapes
    status, resp_body = await raw_post(http, f"{server.url}{MESSAGES}", body, user.headers)
    assert status == 400, resp_body
    assert "content" in assert_error(resp_body, "validation_error")["fields"]
    assert await last_seq(http, server, user) == before


async def test_huge_body_is_413(server, http, user):
    before = await last_seq(http, server, user)
    big = json.dumps({"content": "x" * (200 * 1024)})
    status, body = await raw_post(http, f"{server.url}{MESSAGES}", big, user.headers)
    assert status == 413, body
    assert_error(body, "too_large")
    assert await last_seq(http, server, user) == before
    # The server still answers normally afterwards.
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "still alive"}, headers=user.headers
    ) as resp:
        assert resp.status == 201


async def test_huge_body_on_register_is_413_and_creates_nobody(server, http):
    name = unique_name()
    big = json.dumps(
        {
            "email": f"{name}@example.test",
            "username": name,
            "password": PASSWORD,
            "pad": "x" * 200_000,
        }
    )
    status, body = await raw_post(http, f"{server.url}/api/auth/register", big)
    assert status == 413, body
    assert_error(body, "too_large")
    async with http.post(
        f"{server.url}/api/auth/login", json={"email": f"{name}@example.test", "password": PASSWORD}
    ) as resp:
        assert resp.status == 401


async def test_rejected_register_creates_nobody(server, http):
    name = unique_name()
    async with http.post(
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": "short"},
    ) as resp:
        assert resp.status == 400
    async with http.post(
        f"{server.url}/api/auth/login", json={"username": name, "password": "short"}
    ) as resp:
        assert resp.status == 401
    # The name is still free.
    async with http.post(
        f"{server.url}/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
    ) as resp:
        assert resp.status == 201


@pytest.mark.parametrize(
    "path", ["/api/nope", "/api/rooms/x/y/z", "/nothing-here", "/api/users/someone/else"]
)
async def test_unknown_route_is_404_with_error_shape(server, http, path):
    async with http.get(f"{server.url}{path}") as resp:
        assert resp.status == 404
        assert resp.content_type == "application/json"
        assert_error(await resp.json(), "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/api/auth/register"),
        ("GET", "/api/auth/login"),
        ("PATCH", "/api/users/me"),
        ("PUT", MESSAGES),
        ("POST", "/health/live"),
    ],
)
async def test_wrong_method_is_405_with_error_shape(server, http, method, path):
    async with http.request(method, f"{server.url}{path}") as resp:
        assert resp.status == 405
        assert "Allow" in resp.headers
        assert_error(await resp.json(), "method_not_allowed")


async def test_every_error_response_has_the_error_shape(server, http, user):
    cases = [
        (
            "POST",
            MESSAGES,
            {"data": "{", "headers": {**user.headers, "Content-Type": "application/json"}},
        ),
        ("GET", MESSAGES, {}),  # 401
        ("GET", f"/api/rooms/{LOBBY_ID}/messages?limit=0", {"headers": user.headers}),
        (
            "GET",
            "/api/rooms/00000000-0000-4000-8000-00000000ffff/messages",
            {"headers": user.headers},
        ),
        (
            "POST",
            "/api/auth/login",
            {"json": {"email": "nobody@example.test", "password": "whatever!"}},
        ),
        ("POST", "/api/auth/refresh", {"json": {"refreshToken": "nope"}}),
        ("GET", "/api/missing", {}),
        ("DELETE", "/api/users/me", {"headers": user.headers}),
    ]
    for method, path, kw in cases:
        async with http.request(method, f"{server.url}{path}", **kw) as resp:
            assert resp.status >= 400, (method, path)
            assert resp.content_type == "application/json", (method, path)
            assert_error(await resp.json())


async def test_security_headers_on_success_and_error(server, http, user):
    for path, headers in (
        ("/api/users/me", user.headers),
        ("/api/users/me", {}),
        ("/api/does-not-exist", {}),
        ("/health/live", {}),
    ):
        async with http.get(f"{server.url}{path}", headers=headers) as resp:
            h = resp.headers
            assert h["X-Content-Type-Options"] == "nosniff", path
            assert h["X-Frame-Options"] in ("DENY", "SAMEORIGIN"), path
            csp = h["Content-Security-Policy"]
            assert "default-src" in csp
            assert "frame-ancestors 'none'" in csp
            assert "object-src 'none'" in csp
            assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";")[0]
            assert h.get("Referrer-Policy") == "no-referrer"


async def test_api_responses_are_not_cached(server, http, user):
    async with http.get(f"{server.url}/api/users/me", headers=user.headers) as resp:
        assert resp.headers.get("Cache-Control") == "no-store"


async def test_request_id_is_echoed_when_sane_and_replaced_otherwise(server, http):
    async with http.get(f"{server.url}/health/live", headers={"X-Request-ID": "abc-123"}) as resp:
        assert resp.headers["X-Request-ID"] == "abc-123"
    async with http.get(
        f"{server.url}/health/live", headers={"X-Request-ID": "bad id\\with stuff"}
    ) as resp:
        rid = resp.headers["X-Request-ID"]
        assert rid != "bad id\\with stuff"
        assert rid.isalnum()


async def test_server_keeps_serving_after_a_burst_of_garbage(server, http, user):
    for data in ("{", "[]", "x" * 1000, '{"content": ' + "[" * 5000 + "]" * 5000 + "}"):
        async with http.post(
            f"{server.url}{MESSAGES}",
            data=data,
            headers={**user.headers, "Content-Type": "application/json"},
        ) as resp:
            assert resp.status == 400, data[:20]
            assert_error(await resp.json(), "validation_error")
    async with http.post(
        f"{server.url}{MESSAGES}", json={"content": "ok"}, headers=user.headers
    ) as resp:
        assert resp.status == 201
