"""PUT /api/users/me is no oracle (issue 14 #11).

With a stolen access token the current password could be guessed there without end, outside
the login limits, and `{email}` answered 409 for every registered address. Now a change of
password or email needs the current password, and every such attempt (and any other one
carrying `currentPassword`) counts against RATE_LIMIT_PROFILE per user and per client IP;
a taken email is reported only after the password check passed."""

from __future__ import annotations

from multidict import CIMultiDict

from chat_server.config import Config
from tests.api.test_rate_limits import assert_rate_limited
from tests.conftest import PASSWORD

LIMIT = 3


async def put_me(http, server, user, payload, ip: str = "198.51.100.1"):
    headers = CIMultiDict({**user.headers, "X-Forwarded-For": ip})
    async with http.put(f"{server.url}/api/users/me", json=payload, headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers


async def test_current_password_guesses_are_limited_per_user(start_server, http, register):
    server = await start_server(rate_limit_profile=f"{LIMIT}/hour")
    user = await register(server)
    bystander = await register(server)
    for n in range(LIMIT):
        guess = {"password": "new password 1", "currentPassword": f"guess number {n}"}
        status, body, _ = await put_me(http, server, user, guess, ip=f"198.51.100.{n + 1}")
        # A wrong current password is well formed but not allowed: 403 (the document's rule).
        assert status == 403 and "currentPassword" in body["error"]["fields"], body
    # The right password, from yet another IP: still limited, nothing changes.
    right = {"password": "new password 1", "currentPassword": PASSWORD}
    status, body, headers = await put_me(http, server, user, right, ip="198.51.100.99")
    assert_rate_limited(status, body, headers, 3600)
    status, _, _ = await put_me(
        http,
        server,
        user,
        {"displayName": "probe", "currentPassword": "just probing"},
        ip="198.51.100.98",
    )
    assert status == 429
    async with http.post(
        f"{server.url}/api/auth/login",
        json={"email": user.email, "password": "new password 1"},
    ) as resp:
        assert resp.status == 401
    # Changes that need no password are not limited; other users are not affected.
    status, _, _ = await put_me(http, server, user, {"displayName": "Still me"})
    assert status == 200
    status, body, _ = await put_me(
        http, server, bystander, {**right, "currentPassword": PASSWORD}, ip="198.51.100.50"
    )
    assert status == 200, body


async def test_current_password_guesses_are_limited_per_ip(start_server, http, register):
    server = await start_server(rate_limit_profile=f"{LIMIT}/hour")
    users = [await register(server) for _ in range(LIMIT + 1)]
    statuses = [
        (await put_me(http, server, u, {"password": "new password 1", "currentPassword": "x"}))[0]
        for u in users
    ]
    assert statuses == [403] * LIMIT + [429]


async def test_email_changes_need_the_current_password(server, http, register):
    alice = await register(server)
    bob = await register(server)
    # Missing: a 400 (the schema's rule); wrong: a 403. Neither says whether the email is taken.
    for payload, code in (
        ({"email": alice.email}, 400),
        ({"email": alice.email, "currentPassword": "nope!"}, 403),
    ):
        status, body, _ = await put_me(http, server, bob, payload)
        assert status == code, body
        assert set(body["error"]["fields"]) == {"currentPassword"}, body
    status, body, _ = await put_me(
        http, server, bob, {"email": alice.email.upper(), "currentPassword": PASSWORD}
    )
    assert status == 409 and "email" in body["error"]["fields"], body
    new_email = "bob.renamed@example.test"
    status, body, _ = await put_me(
        http, server, bob, {"email": new_email, "currentPassword": PASSWORD}
    )
    assert status == 200 and body["email"] == new_email, body


async def test_taken_email_probes_are_limited(start_server, http, register):
    server = await start_server(rate_limit_profile=f"{LIMIT}/hour")
    prober = await register(server)
    targets = [await register(server) for _ in range(LIMIT + 1)]
    answers = [
        (
            await put_me(
                http,
                server,
                prober,
                {"email": t.email, "currentPassword": PASSWORD},
                ip=f"203.0.113.{n}",
            )
        )[0]
        for n, t in enumerate(targets)
    ]
    assert answers == [409] * LIMIT + [429]


def test_the_profile_limit_is_configurable():
    assert Config.from_env({}).rate_limit_profile == "10/hour"
    assert Config.from_env({"RATE_LIMIT_PROFILE": "4/minute"}).rate_limit_profile == "4/minute"
