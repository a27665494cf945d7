"""The cluster tests' view of chat_server/launcher.py (the one launcher, shared with
`chat-server cluster` and the benchmark): a private redis-server, chat-server instances and
HAProxy with the packaged haproxy.cfg, all on 127.0.0.1 on free ports.

This module owns only what tests need on top of the launcher: the test instances'
environment (`instance_env`), a Redis that can be killed and restarted, asynchronous
waits and probes (readiness, exit, /metrics, HAProxy's server states) for tests that run
clients in the same event loop, and log tails for failure reports. It must not start or
stop processes by other means than the launcher's `ProcessGroup` (whose `close()`, called
by the fixtures' teardown, kills whatever is still running, so that a failing test leaves
nothing behind), nor copy the launcher's logic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp

from chat_server import launcher
from chat_server.launcher import (
    HAPROXY_CFG,
    ProcessGroup,
    free_port,
    haproxy_env,
    server_states,
    tail,
    wait_port,
)

__all__ = [
    "HAPROXY_CFG",
    "Cluster",
    "HAProxy",
    "Instance",
    "ProcessGroup",
    "RedisServer",
    "free_port",
    "haproxy_env",
    "instance_env",
    "parse_metrics",
    "tail",
    "wait_port",
]

# Instances of one cluster must share the secret: a token issued by one is checked by another.
JWT_SECRET = "cluster-test-secret-" + "s" * 40
# How long a process gets to become ready / to exit before the test gives up.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 30.0
# Engine.IO heartbeat for test instances: python-engineio's client takes up to pingInterval
# to close a long-polling connection, so a short interval keeps teardown quick.
TEST_PING_INTERVAL_S = "5"
TEST_PING_TIMEOUT_S = "5"
# Between two polls of an asynchronous wait.
POLL_INTERVAL_S = 0.1


class RedisServer:
    """A private redis-server on its own port, without persistence: it can be killed and
    restarted on the same port to simulate a Redis outage."""

    def __init__(self, group: ProcessGroup, workdir: Path, port: int | None = None):
        self.group = group
        self.workdir = workdir
        self.port = port or free_port()
        self.log_path = workdir / f"redis-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed")
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.workdir)]
        self.proc = self.group.spawn(args, dict(os.environ), self.log_path)
        wait_port(self.port, START_TIMEOUT_S)
        return self

    def kill(self) -> None:
        """SIGKILL: Redis disappears without a goodbye (connections reset)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Instance(launcher.Instance):
    """One chat-server process (`python -m chat_server serve`), logging to workdir/name.log,
    with asynchronous waits and probes."""

    def __init__(
        self, group: ProcessGroup, name: str, port: int, env: dict[str, str], workdir: Path
    ):
        super().__init__(group, name, port, env, workdir / f"{name}.log")

    async def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited at start:\n{self.log()}")
            with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                status, _ = await self.ready()
                if status == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log()}")
            await asyncio.sleep(POLL_INTERVAL_S)

    async def wait_exit(self, timeout: float = STOP_TIMEOUT_S) -> int:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} still running after {timeout}s")
            await asyncio.sleep(0.05)
        return self.proc.returncode

    async def ready(self) -> tuple[int, dict[str, Any]]:
        """GET /health/ready: (status, body)."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"{self.url}/health/ready") as resp,
        ):
            return resp.status, await resp.json()

    async def metrics(self) -> dict[str, float]:
        """GET /metrics, parsed: `name{labels}` -> value."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"{self.url}/metrics") as resp,
        ):
            assert resp.status == 200
            return parse_metrics(await resp.text())


def parse_metrics(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            out[key] = float(value)
    return out


def instance_env(
    *,
    name: str,
    port: int,
    database_url: str,
    redis_url: str,
    data_dir: Path,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment of one test instance (docs/contract.md §3's names)."""
    env = {
        key: value
        for key, value in os.environ.items()
        # Nothing from the caller's deployment settings leaks into the test cluster.
        if key not in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET", "CHAT_ENV", "UPLOAD_DIR")
        and not key.startswith("RATE_LIMIT_")
    }
    env.update(
        {
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "INSTANCE_ID": name,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "JWT_SECRET": JWT_SECRET,
            "CHAT_ENV": "test",
            "DATA_DIR": str(data_dir),
            "BCRYPT_ROUNDS": "10",
            "RATE_LIMIT_REGISTER": "100000/hour",
            "RATE_LIMIT_LOGIN": "100000/hour",
            "RATE_LIMIT_MESSAGES": "100000/minute",
            "RATE_LIMIT_UPLOADS": "100000/hour",
            "RATE_LIMIT_LOGIN_ACCOUNT": "100000/hour",
            "RATE_LIMIT_ROOMS": "100000/hour",
            "RATE_LIMIT_INVITES": "100000/hour",
            "RATE_LIMIT_TYPING": "100000/minute",
            "RATE_LIMIT_MEMBERSHIP": "100000/minute",
            "RATE_LIMIT_SYNC": "100000/minute",
            "RATE_LIMIT_PROFILE": "100000/hour",
            # Tests reconnect the same users many times (placement, chaos).
            "MAX_CONNECTIONS_PER_USER": "1000",
            "TRUSTED_PROXIES": "127.0.0.1",
            "PING_INTERVAL": TEST_PING_INTERVAL_S,
            "PING_TIMEOUT": TEST_PING_TIMEOUT_S,
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "5",
            "LOG_LEVEL": "info",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


class HAProxy(launcher.HAProxy):
    """HAProxy in master-worker mode in the foreground, on free ports (with a stats page),
    logging to workdir/haproxy.log, with asynchronous probes of its server states."""

    def __init__(self, group: ProcessGroup, backends: list[str], workdir: Path):
        super().__init__(
            group,
            backends,
            port=free_port(),
            stats_port=free_port(),
            maxconn=4096,
            log_path=workdir / "haproxy.log",
        )

    async def server_states(self) -> dict[str, str]:
        """`server name -> status` (UP, DOWN, ...) of the main backend, from the stats CSV."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(self.stats_url) as resp,
        ):
            return server_states(await resp.text())

    async def wait_state(self, server: str, status: str, timeout: float = 20.0) -> None:
        """Wait until HAProxy's health checks report `server` as `status` (e.g. UP)."""
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while True:
            with contextlib.suppress(aiohttp.ClientError, OSError, asyncio.TimeoutError):
                states = await self.server_states()
                if states.get(server, "").split(" ")[0] == status:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"HAProxy: {server} not {status} after {timeout}s: {states}")
            await asyncio.sleep(POLL_INTERVAL_S)


class Cluster:
    """N instances sharing one database and one Redis, HAProxy in front."""

    def __init__(
        self,
        group: ProcessGroup,
        workdir: Path,
        database_url: str,
        redis: RedisServer,
        size: int = 2,
        extra_env: dict[str, str] | None = None,
    ):
        self.group = group
        self.workdir = workdir
        self.database_url = database_url
        self.redis = redis
        self.extra_env = extra_env or {}
        self.data_dir = workdir / "data"
        self.instances = [self.make_instance(f"app{i}") for i in range(1, size + 1)]
        self.haproxy = HAProxy(group, [i.address for i in self.instances], workdir)

    def make_instance(self, name: str, port: int | None = None) -> Instance:
        port = port or free_port()
        env = instance_env(
            name=name,
            port=port,
            database_url=self.database_url,
            redis_url=self.redis.url(),
            data_dir=self.data_dir,
            extra=self.extra_env,
        )
        return Instance(self.group, name, port, env, self.workdir)

    def start(self) -> Cluster:
        launcher.start_all(self.instances, START_TIMEOUT_S)
        self.haproxy.start()
        return self

    @property
    def url(self) -> str:
        """Where clients go: HAProxy."""
        return self.haproxy.url

    def __getitem__(self, i: int) -> Instance:
        return self.instances[i]

    def logs(self) -> str:
        parts = [f"--- {i.name} ---\n{i.log()}" for i in self.instances]
        parts.append(f"--- haproxy ---\n{self.haproxy.log(40)}")
        return "\n".join(parts)
