"""GET /api/users?search= and GET /api/users/{id}: finding people to message or invite."""

from __future__ import annotations

import uuid


async def test_search_finds_users_by_username_prefix(server, http, register, sio_connect):
    tag = uuid.uuid4().hex[:6]
    alice = await register(server, username=f"srch_{tag}_alice")
    bob = await register(server, username=f"srch_{tag}_bob")
    await register(server, username=f"other_{tag}")
    await sio_connect(server, bob.access_token)
    async with http.get(
        f"{server.url}/api/users", params={"search": f"SRCH_{tag}"}, headers=alice.headers
    ) as resp:
        assert resp.status == 200
        users = (await resp.json())["users"]
    assert [u["username"] for u in users] == [alice.username, bob.username]
    by_name = {u["username"]: u for u in users}
    assert by_name[bob.username]["online"] is True
    assert by_name[alice.username]["online"] is False
    assert "email" not in by_name[alice.username]  # public fields only


async def test_search_treats_wildcards_literally(server, http, register):
    tag = uuid.uuid4().hex[:6]
    alice = await register(server, username=f"wild_{tag}")
    async with http.get(
        f"{server.url}/api/users", params={"search": "%"}, headers=alice.headers
    ) as r:
        assert r.status == 200
        assert (await r.json())["users"] == []
    async with http.get(
        f"{server.url}/api/users", params={"search": "_"}, headers=alice.headers
    ) as r:
        assert all(u["username"].startswith("_") for u in (await r.json())["users"])


async def test_search_needs_a_query_and_a_login(server, http, register):
    alice = await register(server)
    async with http.get(f"{server.url}/api/users", headers=alice.headers) as resp:
        assert resp.status == 400
        assert "search" in (await resp.json())["error"]["fields"]
    async with http.get(
        f"{server.url}/api/users", params={"search": "a", "limit": "500"}, headers=alice.headers
    ) as resp:
        assert resp.status == 400
    async with http.get(f"{server.url}/api/users", params={"search": "a"}) as resp:
        assert resp.status == 401


async def test_public_profile_and_unknown_user(server, http, register):
    alice = await register(server)
    bob = await register(server)
    async with http.get(f"{server.url}/api/users/{bob.id}", headers=alice.headers) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["id"] == bob.id and body["username"] == bob.username and "email" not in body
    async with http.get(f"{server.url}/api/users/{uuid.uuid4()}", headers=alice.headers) as resp:
        assert resp.status == 404
    async with http.get(f"{server.url}/api/users/not-a-uuid", headers=alice.headers) as resp:
        assert resp.status == 400
