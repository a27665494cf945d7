"""A spent refresh token replayed inside the grace window (issue 14 #10).

The grace window exists for two tabs refreshing at once and for a client retrying after a
lost response: both want the pair that the first refresh produced. Before the fix every
replay minted a new pair, a new branch of the login session (4 replays, 4 live refresh
tokens), which a thief holding a copy of the token could keep spawning. Now a replay
inside the window answers with the same successor refresh token (and a fresh access token
of the same session); there is never more than one live refresh token per session."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.chat_helpers import api
from tests.conftest import PASSWORD
from tests.security.test_auth_attacks import bearer_status

REPLAYS = 4


async def refresh(http, server, token: str) -> tuple[int, dict]:
    return await api(http, server, "POST", "/api/auth/refresh", json={"refreshToken": token})


async def live_refresh_tokens(database_url: str, user_id: str) -> int:
    """How many refresh tokens of the user can still be exchanged."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM refresh_tokens WHERE user_id = $1"
                " AND rotated_at IS NULL AND revoked_at IS NULL",
                user_id,
            )
        )
    finally:
        await conn.close()


async def test_replays_inside_the_grace_window_get_the_same_successor(
    server, http, register, database_url
):
    user = await register(server)
    status, first = await refresh(http, server, user.refresh_token)
    assert status == 200, first
    for _ in range(REPLAYS):
        status, again = await refresh(http, server, user.refresh_token)
        assert status == 200, again
        assert again["refreshToken"] == first["refreshToken"]
        assert again["user"] == first["user"]
        assert await bearer_status(http, server, again["accessToken"]) == 200
    assert await live_refresh_tokens(database_url, user.id) == 1
    # The one successor goes on rotating as usual.
    status, second = await refresh(http, server, first["refreshToken"])
    assert status == 200, second
    assert second["refreshToken"] not in (first["refreshToken"], user.refresh_token)
    assert await live_refresh_tokens(database_url, user.id) == 1


async def test_concurrent_refreshes_share_one_successor(server, http, register, database_url):
    user = await register(server)
    results = await asyncio.gather(*(refresh(http, server, user.refresh_token) for _ in range(3)))
    assert [status for status, _ in results] == [200, 200, 200], results
    assert len({body["refreshToken"] for _, body in results}) == 1
    assert await live_refresh_tokens(database_url, user.id) == 1


async def test_a_replay_of_a_revoked_session_is_refused_inside_the_grace_window(
    server, http, register
):
    user = await register(server)
    status, pair = await refresh(http, server, user.refresh_token)
    assert status == 200
    async with http.post(
        f"{server.url}/api/auth/logout", headers={"Authorization": f"Bearer {pair['accessToken']}"}
    ) as resp:
        assert resp.status == 204
    status, body = await refresh(http, server, user.refresh_token)
    assert status == 401, body
    assert (await refresh(http, server, pair["refreshToken"]))[0] == 401


async def test_a_password_change_ends_every_other_session_and_what_was_replayed_into_it(
    server, http, register, sio_connect, database_url
):
    """The victim is signed in on a laptop and a phone; a thief copied the phone's refresh
    token and replayed it inside the window. The password change from the laptop ends the
    phone's session with everything minted from it: refresh and access tokens, sockets."""
    victim = await register(server)  # the laptop
    status, phone = await api(
        http, server, "POST", "/api/auth/login", json={"email": victim.email, "password": PASSWORD}
    )
    assert status == 200
    status, phone_next = await refresh(http, server, phone["refreshToken"])
    assert status == 200
    thief_pairs = [(await refresh(http, server, phone["refreshToken"]))[1] for _ in range(REPLAYS)]
    assert {p["refreshToken"] for p in thief_pairs} == {phone_next["refreshToken"]}
    thief_socket = await sio_connect(server, thief_pairs[-1]["accessToken"], events=("disconnect",))
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
    for pair in (phone, phone_next, *thief_pairs):
        assert (await refresh(http, server, pair["refreshToken"]))[0] == 401
        assert await bearer_status(http, server, pair["accessToken"]) == 401
    # Only the laptop's session is left, and it goes on.
    assert await live_refresh_tokens(database_url, victim.id) == 1
    assert await bearer_status(http, server, victim.access_token) == 200
    assert (await refresh(http, server, victim.refresh_token))[0] == 200
