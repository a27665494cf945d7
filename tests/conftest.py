"""Shared fixtures: a fresh PostgreSQL database per test run (created and dropped here),
the real app served on a real port, and helpers for real HTTP and Socket.IO clients.

PostgreSQL comes from CHAT_TEST_PG_URL (default: the local server at 127.0.0.1:5432; the
databases are made by tests/pgdb.py) and Redis from CHAT_TEST_REDIS_URL (default
redis://127.0.0.1:6379/15). Nothing is mocked.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from chat_server.app import create_app
from chat_server.config import Config
from tests import pgdb
from tests.event_contract import CheckedClient
from tests.pgdb import PG_ADMIN_URL  # noqa: F401 - imported from here by the tests

REDIS_URL = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
LOBBY_ID = "00000000-0000-4000-8000-000000000001"
PASSWORD = "correct horse battery"


async def delete_redis_keys(client: Any, prefix: str) -> None:
    """Remove a test's own Redis keys (tests share the Redis database with other runs)."""
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)


@pytest.fixture()
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own in the shared Redis database, emptied afterwards."""
    import redis.asyncio as aioredis

    prefix = f"test-{uuid.uuid4().hex}"
    yield prefix
    client = aioredis.from_url(REDIS_URL)
    await delete_redis_keys(client, prefix)
    await client.aclose()


@pytest.fixture(scope="session")
def database_url() -> Any:
    """A database made for this test run, migrated once, dropped at the end."""
    name = pgdb.unique_name("chat_test")
    url = asyncio.run(pgdb.create_database(name))
    yield url
    asyncio.run(pgdb.drop_database(name))


@pytest.fixture
def make_config(database_url: str, tmp_path: Path) -> Callable[..., Config]:
    """Build a Config for a test app; generous rate limits unless a test asks otherwise."""

    def build(**overrides: Any) -> Config:
        base = Config(
            host="127.0.0.1",
            port=0,
            database_url=database_url,
            data_dir=tmp_path / "data",
            upload_dir=tmp_path / "data" / "uploads",
            jwt_secret="test-secret-" + "x" * 40,
            env="test",
            instance_id="test",
            rate_limit_register="10000/hour",
            rate_limit_login="10000/hour",
            rate_limit_messages="10000/minute",
            rate_limit_uploads="10000/hour",
            rate_limit_login_account="10000/hour",
            rate_limit_rooms="10000/hour",
            rate_limit_invites="10000/hour",
            rate_limit_typing="10000/minute",
            rate_limit_membership="10000/minute",
            rate_limit_sync="10000/minute",
            rate_limit_profile="10000/hour",
            max_connections_per_user=1000,
            bcrypt_rounds=10,
            db_pool_min=1,
            db_pool_max=5,
            run_migrations=False,
        )
        return dataclasses.replace(base, **overrides)

    return build


@dataclasses.dataclass
class LiveServer:
    """A running app: its base URL and the app object (for services in tests)."""

    url: str
    app: Any
    runner: Any

    async def close(self) -> None:
        await self.runner.cleanup()


@pytest.fixture
async def start_server(
    make_config: Callable[..., Config],
) -> AsyncIterator[Callable[..., Awaitable[LiveServer]]]:
    """Start the real app on a free port; all started servers are stopped at teardown."""
    from aiohttp import web

    started: list[LiveServer] = []

    async def start(
        config: Config | None = None, *, shutdown_timeout: float = 60.0, **overrides: Any
    ) -> LiveServer:
        """`shutdown_timeout`: how long `close()` lets open requests and sockets finish (a
        small value makes close() drop live connections, like a crashed instance)."""
        cfg = config or make_config(**overrides)
        app = create_app(cfg)
        runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", cfg.port or 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        server = LiveServer(url=f"http://127.0.0.1:{port}", app=app, runner=runner)
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        await server.runner.cleanup()


@pytest.fixture
async def server(start_server: Callable[..., Awaitable[LiveServer]]) -> LiveServer:
    return await start_server()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


@dataclasses.dataclass
class TestUser:
    id: str
    username: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


@pytest.fixture
def register(http: aiohttp.ClientSession) -> Callable[..., Awaitable[TestUser]]:
    """Register a fresh user through the real API."""

    async def do(
        server: LiveServer, username: str | None = None, password: str = PASSWORD
    ) -> TestUser:
        name = username or unique_name()
        email = f"{name}@example.test"
        async with http.post(
            f"{server.url}/api/auth/register",
            json={"email": email, "username": name, "password": password},
        ) as resp:
            body = await resp.json()
            assert resp.status == 201, body
        return TestUser(
            id=body["user"]["id"],
            username=name,
            email=email,
            password=password,
            access_token=body["accessToken"],
            refresh_token=body["refreshToken"],
        )

    return do


@pytest.fixture
async def sio_connect() -> AsyncIterator[Callable[..., Awaitable[socketio.AsyncClient]]]:
    """Connect real python-socketio clients to /chat; all are disconnected at teardown.

    Every event and ack they receive is checked against `/api/asyncapi.json`
    (tests/event_contract.py): a mismatch fails the test at teardown."""
    clients: list[CheckedClient] = []

    async def connect(
        server: LiveServer,
        token: str | None = None,
        *,
        transports: list[str] | None = None,
        auth: Any = None,
        events: tuple[str, ...] = (),
    ) -> socketio.AsyncClient:
        """`events` are recorded from before the handshake, on `client.recorder`."""
        client = CheckedClient(reconnection=False)
        client.recorder = EventRecorder(client, *events)
        clients.append(client)
        await client.connect(
            server.url,
            namespaces=["/chat"],
            auth=auth if auth is not None else ({"token": token} if token else None),
            transports=transports or ["websocket"],
            wait_timeout=10,
        )
        return client

    yield connect
    for client in clients:
        if client.connected:
            await client.disconnect()
    violations = [problem for client in clients for problem in client.contract_violations]
    if violations:
        pytest.fail("the server broke its event contract:\n" + "\n".join(violations))


class EventRecorder:
    """Collects the events a socket receives, with waiting helpers."""

    def __init__(self, client: socketio.AsyncClient, *names: str):
        self.events: dict[str, list[Any]] = {n: [] for n in names}
        self._cond = asyncio.Condition()
        for name in names:
            client.on(name, self._make_handler(name), namespace="/chat")

    def _make_handler(self, name: str) -> Callable[[Any], Awaitable[None]]:
        async def handler(data: Any = None) -> None:
            async with self._cond:
                self.events[name].append(data)
                self._cond.notify_all()

        return handler

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0) -> list[Any]:
        async with self._cond:
            await asyncio.wait_for(
                self._cond.wait_for(lambda: len(self.events[name]) >= count), timeout
            )
            return list(self.events[name])
