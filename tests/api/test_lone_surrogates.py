"""A lone UTF-16 surrogate (`"\\ud800"`: a JS string cut inside an emoji) in any JSON body
field is a 400 validation error naming that field, never a 500 (issue 14 items 2 and 13).

The server refuses such text everywhere, REST and socket alike, rather than replacing it:
the sender learns its text was broken and a client outbox stops retrying.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.text import UNPAIRED_SURROGATE_MESSAGE
from tests.api.test_bad_input import assert_error, raw_post
from tests.conftest import LOBBY_ID, PASSWORD, unique_name

BROKEN = "pass\ud83dword"  # the first half of an emoji, alone


def register_body(**changes: Any) -> dict[str, Any]:
    name = unique_name()
    return {"email": f"{name}@example.test", "username": name, "password": PASSWORD, **changes}


async def refused(http: Any, url: str, body: Any, headers: Any = None, *, method: str = "POST"):
    """Send `body` as ensure_ascii JSON (the surrogate as a `\\ud83d` escape); return the
    error's fields after checking it is a 400 validation_error."""
    text = json.dumps(body)
    assert "\\ud83d" in text
    if method == "POST":
        status, resp_body = await raw_post(http, url, text, headers)
    else:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        async with http.request(method, url, data=text, headers=hdrs) as resp:
            status, resp_body = resp.status, await resp.json()
    assert status == 400, resp_body
    return assert_error(resp_body, "validation_error")["fields"]


@pytest.mark.parametrize("field", ["password", "email", "username"])
async def test_register(server, http, field):
    body = register_body(**{field: BROKEN})
    fields = await refused(http, f"{server.url}/api/auth/register", body)
    assert fields == {field: [UNPAIRED_SURROGATE_MESSAGE]}


@pytest.mark.parametrize("field", ["password", "email", "username"])
async def test_login(server, http, register, field):
    user = await register(server)
    body = {"email": user.email, "password": user.password, field: BROKEN}
    fields = await refused(http, f"{server.url}/api/auth/login", body)
    assert fields == {field: [UNPAIRED_SURROGATE_MESSAGE]}


async def test_refresh(server, http):
    fields = await refused(http, f"{server.url}/api/auth/refresh", {"refreshToken": BROKEN})
    assert fields == {"refreshToken": [UNPAIRED_SURROGATE_MESSAGE]}


@pytest.mark.parametrize(
    "changes",
    [
        {"password": "new-password-1", "currentPassword": BROKEN},
        {"password": BROKEN, "currentPassword": PASSWORD},
        {"displayName": BROKEN},
    ],
)
async def test_update_me(server, http, register, changes):
    user = await register(server)
    url = f"{server.url}/api/users/me"
    fields = await refused(http, url, changes, user.headers, method="PUT")
    assert list(fields) == [k for k, v in changes.items() if v == BROKEN]
    # Nothing changed: the old password still logs in.
    async with http.post(
        f"{server.url}/api/auth/login", json={"email": user.email, "password": PASSWORD}
    ) as resp:
        assert resp.status == 200


async def test_message_content_and_room_fields(server, http, register):
    user = await register(server)
    url = f"{server.url}/api/rooms/{LOBBY_ID}/messages"
    fields = await refused(http, url, {"content": f"hi {BROKEN}"}, user.headers)
    assert fields == {"content": [UNPAIRED_SURROGATE_MESSAGE]}
    fields = await refused(
        http, f"{server.url}/api/rooms", {"name": BROKEN, "description": BROKEN}, user.headers
    )
    assert fields == {
        "name": [UNPAIRED_SURROGATE_MESSAGE],
        "description": [UNPAIRED_SURROGATE_MESSAGE],
    }


async def test_an_unknown_field_named_with_a_surrogate_is_not_echoed(server, http, register):
    user = await register(server)
    url = f"{server.url}/api/rooms/{LOBBY_ID}/messages"
    fields = await refused(http, url, {"content": "hello", BROKEN: 1}, user.headers)
    assert fields == {"_schema": [UNPAIRED_SURROGATE_MESSAGE]}


async def test_a_valid_emoji_pair_is_accepted(server, http, register):
    """The escaped pair `\\ud83d\\ude00` is one character, not a lone surrogate."""
    user = await register(server)
    url = f"{server.url}/api/rooms/{LOBBY_ID}/messages"
    status, body = await raw_post(http, url, json.dumps({"content": "ok \U0001f600"}), user.headers)
    assert status == 201, body
    assert body["message"]["content"] == "ok \U0001f600"
