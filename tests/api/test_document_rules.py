"""Each rule the OpenAPI document states (issue 14 item 5) holds over HTTP, both ways: what
the document refuses gets 400 validation_error, what it allows is not refused as malformed;
and a well-formed request that breaks a business rule gets its own status (403/409), not
400. tests/security/test_schemathesis.py fuzzes the same; these pin each case down."""

from __future__ import annotations

import re

import pytest

from chat_server.api.openapi import openapi_document
from tests.chat_helpers import api, create_room, post_message, private_room_with
from tests.conftest import LOBBY_ID, PASSWORD, unique_name


def assert_code(status: int, body: dict, expected_status: int, code: str) -> dict:
    assert status == expected_status, body
    assert body["error"]["code"] == code, body
    return body["error"]


def documented(component: str, field: str) -> dict:
    return openapi_document()["components"]["schemas"][component]["properties"][field]


@pytest.fixture
async def user(server, register):
    return await register(server)


# -- text rules: the document's pattern and the server agree ----------------------------


@pytest.mark.parametrize("path", ["/api/users", "/api/rooms"])
@pytest.mark.parametrize("search", ["a\u0085b", "a\x7f", "x\ty", "x\ny"])
async def test_a_search_with_a_control_character_is_refused(server, http, user, path, search):
    status, body = await api(http, server, "GET", path, user, params={"search": search})
    err = assert_code(status, body, 400, "validation_error")
    assert "search" in err["fields"]


@pytest.mark.parametrize("path", ["/api/users", "/api/rooms"])
async def test_a_search_the_document_allows_is_answered(server, http, user, path):
    search = "Zoë 🙂\u200b"
    pattern = next(
        p["schema"]["pattern"]
        for p in openapi_document()["paths"][path]["get"]["parameters"]
        if p["name"] == "search"
    )
    assert re.search(pattern, search)
    status, body = await api(http, server, "GET", path, user, params={"search": search})
    assert status == 200, body


@pytest.mark.parametrize(
    "name",
    ["a\x00b", "two\nlines", "tab\there", "\u0085", " \u3000 ", "zero\u200bwidth", "a\u202eb"],
)
async def test_a_room_name_the_document_refuses_is_400(server, http, user, name):
    assert not re.search(documented("CreateRoom", "name")["pattern"], name)
    status, body = await api(http, server, "POST", "/api/rooms", user, json={"name": name})
    assert "name" in assert_code(status, body, 400, "validation_error")["fields"]


async def test_a_room_name_the_document_allows_is_created(server, http, user):
    name = f"Café 🙂 {unique_name()}"
    assert re.search(documented("CreateRoom", "name")["pattern"], name)
    status, body = await api(http, server, "POST", "/api/rooms", user, json={"name": name})
    assert status == 201, body


async def test_a_password_with_a_control_character_is_refused(server, http):
    password = "long enough\x1b"
    assert not re.search(documented("Register", "password")["pattern"], password)
    name = unique_name()
    status, body = await api(
        http,
        server,
        "POST",
        "/api/auth/register",
        json={"email": f"{name}@example.test", "username": name, "password": password},
    )
    assert "password" in assert_code(status, body, 400, "validation_error")["fields"]


# -- cross-field rules -------------------------------------------------------------------


async def test_history_takes_before_or_after_not_both(server, http, user, register):
    other = await register(server)
    room = await create_room(http, server, user)
    for _ in range(3):
        await post_message(http, server, user, room["id"], "hi")
    await private_room_with(http, server, other)
    await api(http, server, "POST", f"/api/direct-messages/{other.id}", user, json={"content": "x"})
    for path in (f"/api/rooms/{room['id']}/messages", f"/api/direct-messages/{other.id}"):
        status, body = await api(http, server, "GET", path, user, params={"before": 3, "after": 1})
        assert_code(status, body, 400, "validation_error")
        for params in ({"before": 2}, {"after": 0}, {}):
            status, body = await api(http, server, "GET", path, user, params=params)
            assert status == 200, (path, params, body)
    history = openapi_document()["components"]["schemas"]["HistoryQuery"]
    assert history["allOf"][0]["not"] == {"required": ["before", "after"]}


async def test_login_needs_an_email_or_a_username(server, http, user):
    status, body = await api(http, server, "POST", "/api/auth/login", json={"password": PASSWORD})
    assert "email" in assert_code(status, body, 400, "validation_error")["fields"]
    for identifier in ({"email": user.email}, {"username": user.username}):
        status, body = await api(
            http, server, "POST", "/api/auth/login", json={**identifier, "password": PASSWORD}
        )
        assert status == 200, (identifier, body)


async def test_an_unknown_body_field_is_refused(server, http, user):
    status, body = await api(
        http,
        server,
        "POST",
        "/api/auth/login",
        json={"email": user.email, "password": PASSWORD, "error": {}},
    )
    assert "error" in assert_code(status, body, 400, "validation_error")["fields"]


@pytest.mark.parametrize(
    "payload",
    [
        {"content": "   \n\t "},
        {"content": "x", "messageType": "image"},
        {"content": "", "fileId": None},
        {"content": "x", "fileId": "8f0e8c1e-6d7a-4a53-a5a1-1f2b3c4d5e6f", "messageType": "text"},
    ],
)
async def test_a_message_the_document_refuses_is_400(server, http, user, payload):
    path = f"/api/rooms/{LOBBY_ID}/messages"
    status, body = await api(http, server, "POST", path, user, json=payload)
    assert_code(status, body, 400, "validation_error")


async def test_a_text_message_may_say_file_id_null(server, http, user):
    path = f"/api/rooms/{LOBBY_ID}/messages"
    status, body = await api(
        http, server, "POST", path, user, json={"content": "hi", "fileId": None}
    )
    assert status == 201, body


# -- business rules: well formed, refused with their own status ---------------------------


async def test_messaging_or_blocking_yourself_is_forbidden(server, http, user):
    status, body = await api(
        http, server, "POST", f"/api/direct-messages/{user.id}", user, json={"content": "me"}
    )
    assert_code(status, body, 403, "forbidden")
    status, body = await api(http, server, "POST", f"/api/users/{user.id}/block", user)
    assert_code(status, body, 403, "forbidden")


async def test_inviting_into_a_public_room_is_a_conflict(server, http, user, register):
    other = await register(server)
    room = await create_room(http, server, user)
    status, body = await api(
        http, server, "POST", f"/api/rooms/{room['id']}/invites", user, json={"userId": other.id}
    )
    assert_code(status, body, 409, "conflict")


def test_each_status_is_documented_where_it_is_answered():
    paths = openapi_document()["paths"]
    assert "403" in paths["/api/direct-messages/{userId}"]["post"]["responses"]
    assert "403" in paths["/api/users/{userId}/block"]["post"]["responses"]
    assert "409" in paths["/api/rooms/{id}/invites"]["post"]["responses"]
    assert "409" in paths["/api/rooms/{id}/messages"]["post"]["responses"]
    assert "409" in paths["/api/direct-messages/{userId}"]["post"]["responses"]
    assert "403" in paths["/api/users/me"]["put"]["responses"]
