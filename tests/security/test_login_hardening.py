"""Login and registration hardening (issue 14 #13): one case folding for the account
lock-out and the account lookup, no login CSRF through a form-encodable body, and a sane
email syntax."""

from __future__ import annotations

import json
import uuid

import aiohttp
import pytest

from tests.conftest import PASSWORD, unique_name
from tests.security.test_auth_attacks import EVIL, ip, login

# Lower-cased differently by Python (`"İ".lower()` is "i" + U+0307) and PostgreSQL (plain
# "i"); the Kelvin sign folds to "k" in PostgreSQL. The database matches both spellings to
# the ASCII account, so the lock-out must count them as that account too.
CAPITAL_I_WITH_DOT = "\u0130"
KELVIN_SIGN = "\u212a"


@pytest.mark.parametrize(
    ("plain", "fancy"), [("i", CAPITAL_I_WITH_DOT), ("k", KELVIN_SIGN)], ids=["dotted-I", "kelvin"]
)
async def test_the_lock_out_covers_every_spelling_the_database_matches(
    start_server, http, register, plain, fancy
):
    server = await start_server(rate_limit_login_account="3/hour", rate_limit_login="1000/hour")
    name = f"lk_vic7_{uuid.uuid4().hex[:8]}"
    await register(server, username=name)
    other_spelling = name.replace(plain, fancy, 1)
    # The database takes the other spelling for this account.
    assert (await login(http, server, other_spelling, PASSWORD, ip(1)))[0] == 200
    for n in range(3):
        status, _ = await login(http, server, name, "wrong password!", ip(10 + n))
        assert status == 401
    # (Keyed per identifier: the email is a bucket of its own, or its lock-out would tell
    # which email belongs to which username.)
    for identifier in (name, other_spelling, name.upper()):
        status, body = await login(http, server, identifier, PASSWORD, ip(20))
        assert status == 429, (identifier, body)
    # ...and the other way round: failures under the other spelling lock the account.
    victim = await register(server, username=f"lk_vic7_{uuid.uuid4().hex[:8]}")
    for n in range(3):
        fancy_name = victim.username.replace(plain, fancy, 1)
        status, _ = await login(http, server, fancy_name, "wrong password!", ip(30 + n))
        assert status == 401
    assert (await login(http, server, victim.username, PASSWORD, ip(40)))[0] == 429


def _credentials() -> dict[str, str]:
    name = unique_name()
    return {"email": f"{name}@example.test", "username": name, "password": PASSWORD}


@pytest.mark.parametrize("route", ["/api/auth/register", "/api/auth/login"])
@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
async def test_form_encodable_bodies_are_refused_and_set_no_cookie(
    server, register, route, content_type
):
    """A foreign page can POST these content types without a CORS preflight; a JSON body
    under them would otherwise log the victim's browser into the attacker's account."""
    creds = _credentials()
    if route.endswith("login"):
        attacker = await register(server)
        creds = {"email": attacker.email, "password": PASSWORD}
    for headers in ({"Origin": EVIL}, {}):
        jar = aiohttp.CookieJar(unsafe=True)
        async with (
            aiohttp.ClientSession(cookie_jar=jar) as browser,
            browser.post(
                server.url + route,
                data=json.dumps(creds),
                headers={**headers, "Content-Type": content_type},
            ) as resp,
        ):
            body = await resp.json()
            assert resp.status in (403, 415), body
            assert body["error"]["code"] in ("forbidden", "unsupported_media_type")
            assert "Set-Cookie" not in resp.headers
            assert len(jar) == 0


@pytest.mark.parametrize("route", ["/api/auth/register", "/api/auth/login"])
async def test_json_from_a_foreign_origin_is_refused(server, register, route):
    creds = _credentials()
    if route.endswith("login"):
        attacker = await register(server)
        creds = {"email": attacker.email, "password": PASSWORD}
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        aiohttp.ClientSession(cookie_jar=jar) as browser,
        browser.post(server.url + route, json=creds, headers={"Origin": EVIL}) as resp,
    ):
        body = await resp.json()
        assert resp.status == 403 and body["error"]["code"] == "forbidden", body
        assert len(jar) == 0
    # Our own page (and an API client without Origin) still get in.
    async with (
        aiohttp.ClientSession() as client,
        client.post(server.url + route, json=creds, headers={"Origin": server.url}) as resp,
    ):
        assert resp.status in (200, 201), await resp.text()


@pytest.mark.parametrize(
    "email",
    [
        '"esc\x1bbell\x07"@example.test',
        '"quoted"@example.test',
        '"a b"@example.test',
        "tab\t@example.test",
        "new\nline@example.test",
        "trailing@example.test\n",
        "j\u00f6rg@example.test",
        "user@ex\u00e4mple.test",
        "two@@example.test",
        "dot..dot@example.test",
        "user@-example.test",
        "a@b@example.test",
    ],
)
async def test_odd_email_syntax_is_refused(server, http, register, email):
    name = unique_name()
    async with http.post(
        f"{server.url}/api/auth/register",
        json={"email": email, "username": name, "password": PASSWORD},
    ) as resp:
        body = await resp.json()
        assert resp.status == 400, body
        assert "email" in body["error"]["fields"], body
    user = await register(server)
    async with http.put(
        f"{server.url}/api/users/me",
        json={"email": email, "currentPassword": PASSWORD},
        headers=user.headers,
    ) as resp:
        body = await resp.json()
        assert resp.status == 400, body
        assert "email" in body["error"]["fields"], body


@pytest.mark.parametrize(
    "local", ["first.last", "first+tag", "o'brien", "x", "under_score-dash", "a!#$%&*/=?^`{|}~"]
)
async def test_ordinary_email_syntax_is_accepted(server, http, local):
    name = unique_name()
    email = f"{local}.{name}@mail.example.test"
    async with http.post(
        f"{server.url}/api/auth/register",
        json={"email": email, "username": name, "password": PASSWORD},
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        assert body["user"]["email"] == email
