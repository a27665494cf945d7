"""The README's run command really works: `chat-server` with no DATABASE_URL and no REDIS_URL
starts an embedded PostgreSQL under DATA_DIR, serves the lobby, and keeps users, the dev JWT
secret and messages across a restart. `chat-server migrate` works on the same default.

These tests run the real CLI as a subprocess (`python -m chat_server`), as a newcomer would.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

from tests.conftest import LOBBY_ID, PASSWORD

# initdb on a first start takes a few seconds; a slow CI machine gets plenty of room.
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
# Variables that would point the server away from the embedded default, and
# XDG_RUNTIME_DIR, unset as in a container or a fresh `su` shell (platformdirs warns then).
SCRUBBED_ENV = (
    "DATABASE_URL",
    "REDIS_URL",
    "JWT_SECRET",
    "CHAT_ENV",
    "UPLOAD_DIR",
    "HOST",
    "PORT",
    "XDG_RUNTIME_DIR",
)
# A first start prints one line per step (embedded PostgreSQL, migrations, services,
# listening); this leaves room for a few more without letting initdb's ~55 lines back in.
MAX_START_LINES = 10


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_ctl() -> Path:
    """pg_ctl from the pgserver package (found without importing it)."""
    spec = importlib.util.find_spec("pgserver")
    assert spec is not None and spec.submodule_search_locations, "pgserver is not installed"
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin" / "pg_ctl"


def _stop_leftover_postgres(pgdata: Path) -> None:
    """Stop a postmaster still running on `pgdata` (after a crash or a killed server).

    PostgreSQL refuses to run as root, so pgserver runs it as the `pgserver` system user and
    makes it own the data directory; pg_ctl must run as that owner too.
    """
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return
    owner = pgdata.stat().st_uid
    user = pwd.getpwuid(owner).pw_name if owner != os.geteuid() else None
    result = subprocess.run(
        [str(_pg_ctl()), "-D", str(pgdata), "-m", "immediate", "-w", "-t", "20", "stop"],
        user=user,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0 and pid_file.exists():
        # pg_ctl could not do it: signal the postmaster directly (SIGQUIT = immediate stop).
        with contextlib.suppress(ValueError, IndexError, ProcessLookupError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGQUIT)


class ServerProcess:
    """`python -m chat_server [args]` (or `command [args]`) in its own process group,
    logging to a file. The environment is this process's without SCRUBBED_ENV, unless
    `base_env` replaces it."""

    def __init__(
        self,
        data_dir: Path,
        log_path: Path,
        *args: str,
        port: int | None = None,
        command: Sequence[str] = (sys.executable, "-m", "chat_server"),
        base_env: Mapping[str, str] | None = None,
    ):
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        if base_env is None:
            base_env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env = dict(base_env)
        env.update(
            DATA_DIR=str(data_dir),
            HOST="127.0.0.1",
            PORT=str(self.port),
            BCRYPT_ROUNDS="10",
            PYTHONUNBUFFERED="1",
        )
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [*command, *args],
            cwd=data_dir.parent,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    async def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        last = "no answer"
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(f"chat-server exited with {self.proc.returncode}:\n{self.output()}")
                try:
                    async with http.get(
                        f"{self.url}/health/ready", timeout=aiohttp.ClientTimeout(total=3)
                    ) as resp:
                        if resp.status == 200:
                            return
                        last = f"{resp.status} {await resp.text()}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = repr(exc)
                await asyncio.sleep(0.25)
        pytest.fail(f"not ready after {READY_TIMEOUT_S:.0f} s ({last}):\n{self.output()}")

    def wait(self, timeout: float = STOP_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"chat-server did not exit within {timeout:.0f} s:\n{self.output()}")

    def terminate(self) -> int:
        """SIGTERM, as an operator (or Ctrl-C) would; a clean exit stops the embedded postgres."""
        self.proc.send_signal(signal.SIGTERM)
        return self.wait()

    def kill(self) -> None:
        """Teardown: whatever is still running in the process group dies."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._log.close()


class Sandbox:
    """A short temp directory (the embedded postgres puts its Unix socket in DATA_DIR/pg, and
    socket paths are limited to ~107 bytes) with the servers started in it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="chat-e2e-", dir="/tmp"))
        self.data_dir = self.root / "data"
        self.processes: list[ServerProcess] = []

    def start(self, *args: str, port: int | None = None, **kwargs: Any) -> ServerProcess:
        """A server on DATA_DIR; `kwargs` go to ServerProcess (command, base_env)."""
        server = ServerProcess(self.data_dir, self.root / "server.log", *args, port=port, **kwargs)
        self.processes.append(server)
        return server

    def run(self, *args: str) -> tuple[int, str]:
        """Run a short CLI command to completion; returns (exit code, its output)."""
        proc = self.start(*args)
        code = proc.wait(READY_TIMEOUT_S)
        return code, proc.output()

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    def close(self) -> None:
        for server in self.processes:
            server.kill()
        _stop_leftover_postgres(self.pgdata)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()


async def _post(http: aiohttp.ClientSession, url: str, body: dict) -> dict:
    async with http.post(url, json=body) as resp:
        data = await resp.json()
        assert resp.status in (200, 201), (resp.status, data)
        return data


async def test_serve_on_embedded_postgres_survives_restart(sandbox: Sandbox) -> None:
    name = f"e2e_{uuid.uuid4().hex[:10]}"
    content = f"hello from the embedded default {uuid.uuid4()}"

    first = sandbox.start()
    await first.wait_ready()
    async with aiohttp.ClientSession() as http:
        registered = await _post(
            http,
            f"{first.url}/api/auth/register",
            {"email": f"{name}@example.test", "username": name, "password": PASSWORD},
        )
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        first.url,
        namespaces=["/chat"],
        auth={"token": registered["accessToken"]},
        transports=["websocket"],
        wait_timeout=10,
    )
    try:
        ack = await client.call(
            "send_message", {"roomId": LOBBY_ID, "content": content}, namespace="/chat", timeout=10
        )
    finally:
        await client.disconnect()
    assert ack["ok"] is True, ack
    assert ack["message"]["content"] == content

    assert first.terminate() == 0, first.output()
    # A clean exit stops the embedded postgres (pg_ctl stop removes postmaster.pid).
    assert not (sandbox.pgdata / "postmaster.pid").exists(), first.output()
    assert (sandbox.data_dir / "jwt_secret").exists()

    second = sandbox.start(port=first.port)
    await second.wait_ready()
    async with aiohttp.ClientSession() as http:
        # Logging in works: the user (database) and the dev JWT secret survived the restart.
        session = await _post(
            http, f"{second.url}/api/auth/login", {"username": name, "password": PASSWORD}
        )
        assert session["user"]["id"] == registered["user"]["id"]
        headers = {"Authorization": f"Bearer {session['accessToken']}"}
        async with http.get(f"{second.url}/api/rooms/{LOBBY_ID}/messages", headers=headers) as resp:
            page = await resp.json()
            assert resp.status == 200, page
        # The token issued before the restart is still valid too (same secret).
        old = {"Authorization": f"Bearer {registered['accessToken']}"}
        async with http.get(f"{second.url}/api/users/me", headers=old) as resp:
            assert resp.status == 200, await resp.text()
    assert [m["id"] for m in page["messages"] if m["content"] == content] == [ack["message"]["id"]]

    assert second.terminate() == 0, second.output()
    assert not (sandbox.pgdata / "postmaster.pid").exists(), second.output()


async def test_clean_stop_after_a_crash_still_stops_embedded_postgres(sandbox: Sandbox) -> None:
    crashed = sandbox.start()
    await crashed.wait_ready()
    crashed.kill()  # SIGKILL: no cleanup runs, the postmaster (its own session) lives on
    assert (sandbox.pgdata / "postmaster.pid").exists()

    restarted = sandbox.start(port=crashed.port)
    await restarted.wait_ready()  # reuses the running postgres
    assert restarted.terminate() == 0, restarted.output()
    assert not (sandbox.pgdata / "postmaster.pid").exists(), restarted.output()


async def test_migrate_on_embedded_postgres(sandbox: Sandbox) -> None:
    code, out = sandbox.run("migrate")
    assert code == 0, out
    assert "applied" in out, out
    assert not (sandbox.pgdata / "postmaster.pid").exists(), out

    code, out = sandbox.run("migrate")
    assert code == 0, out
    assert "schema is up to date" in out, out
    assert not (sandbox.pgdata / "postmaster.pid").exists(), out


async def test_first_start_prints_one_line_per_step(sandbox: Sandbox) -> None:
    """Issue 14 item 8: initdb's and pg_ctl's output and platformdirs' RuntimeDirWarning
    go to DATA_DIR/postgres.log, not to the terminal, where the listening line must show."""
    server = sandbox.start()
    await server.wait_ready()
    assert server.terminate() == 0, server.output()
    out = server.output()
    listening = f"listening on http://127.0.0.1:{server.port}"
    assert listening in out, out
    start = out[: out.index(listening)].splitlines()
    assert len(start) < MAX_START_LINES, out
    for noise in ("Success.", "initdb", "pg_ctl", "RuntimeDirWarning", "XDG_RUNTIME_DIR"):
        assert noise not in out, f"{noise!r} in the server's output:\n{out}"
    assert "embedded_postgres_started" in out and "migrations_applied" in out, out
    # Kept, not lost: the embedded server's setup output is in its log file.
    kept = (sandbox.data_dir / "postgres.log").read_text()
    assert "Success." in kept and "initdb" in kept, kept
