"""The servers under test: start, wait until live, describe, stop.

- `ours`: the `chat-server` CLI against the bench database (`bench.fixtures`).
- `py`: bench/baselines/py_server.py, bare python-socketio + aiohttp (uvloop, orjson).
- `node`: bench/baselines/node_server.js, socket.io 4 on Node.
- `url`: an already running server (e.g. HAProxy in front of a cluster): not started or
  stopped by the bench, no RSS/CPU figures unless `--pids` names its processes.

Servers are pinned with `taskset` to `server_cpus` (default: core 0 on a 2-core machine)
and the load generator to the other core(s), so the two do not steal each other's time.
PostgreSQL and Redis are not pinned (they are shared services).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chat_server.launcher import spawn

from bench.common import BENCH_DIR, REPO_DIR, RESULTS_DIR, log

LOBBY_ROOM_ID = "00000000-0000-4000-8000-000000000001"
DEFAULT_PORTS = {"ours": 8100, "py": 8101, "node": 8102}


def _raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass
class Target:
    name: str
    kind: str  # "ours" | "baseline" | "external"
    host: str
    port: int
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    uses_tokens: bool = True
    # Several instances driven directly (no proxy in front): connections alternate over
    # these ports; `port` is the first.
    ports: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def auth(self, user: dict[str, Any], rooms: list[str]) -> str:
        """The Socket.IO handshake auth: our JWT, or the baselines' room list."""
        if self.uses_tokens:
            return json.dumps({"token": user["token"]})
        return json.dumps({"rooms": rooms, "user": user["id"]})

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        self.procs.clear()

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)


def wait_live(url: str, timeout: float = 90.0, procs: list[subprocess.Popen[bytes]] = ()) -> None:  # type: ignore[assignment]
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError(f"server exited with {p.returncode} before becoming live")
        try:
            with urllib.request.urlopen(url + "/health/live", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError as exc:
            last = str(exc)
        time.sleep(0.3)
    raise RuntimeError(f"{url} not live after {timeout}s: {last}")


def _popen(
    cmd: list[str], env: dict[str, str], log_path: Path, cpus: str | None
) -> subprocess.Popen[bytes]:
    """`cmd` pinned to `cpus`, logging to `log_path`, with the descriptor limit raised."""
    return spawn(cmd, env, log_path, cpus=cpus, preexec_fn=_raise_nofile)


def ours_env(
    *,
    port: int,
    database_url: str,
    jwt_secret: str,
    redis_url: str | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HOST="127.0.0.1",
        PORT=str(port),
        DATABASE_URL=database_url,
        JWT_SECRET=jwt_secret,
        CHAT_ENV="production",
        LOG_LEVEL="warning",
        LOG_FORMAT="json",
        BCRYPT_ROUNDS="10",
        RATE_LIMIT_MESSAGES="1000000/minute",
        RATE_LIMIT_LOGIN="1000000/minute",
        RATE_LIMIT_REGISTER="1000000/minute",
        INSTANCE_ID=f"bench-{port}",
        DATA_DIR=str(RESULTS_DIR / "tmp" / f"data-{port}"),
    )
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update(extra or {})
    return env


def chat_server_bin() -> str:
    exe = Path(sys.executable).parent / "chat-server"
    return str(exe) if exe.exists() else (shutil.which("chat-server") or "chat-server")


def baseline_cmd(
    name: str, port: int, redis_url: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """Command line and environment of baseline `name` ("py" or "node") on `port`, sharing
    rooms with its other instances through Redis when `redis_url` is given."""
    extra = ["--redis", redis_url] if redis_url else []
    if name == "py":
        script = BENCH_DIR / "baselines" / "py_server.py"
        return [sys.executable, str(script), "--port", str(port), *extra], dict(os.environ)
    if name == "node":
        if not (BENCH_DIR / "node_modules" / "socket.io").exists():
            raise RuntimeError(
                "run `npm ci --prefix bench` first (socket.io for the Node baseline)"
            )
        node = shutil.which("node") or "node"
        script = BENCH_DIR / "baselines" / "node_server.js"
        return [node, str(script), "--port", str(port), *extra], dict(
            os.environ, NODE_ENV="production"
        )
    raise ValueError(f"unknown baseline {name!r}")


def start(
    name: str,
    *,
    cpus: str | None,
    port: int | None = None,
    database_url: str = "",
    jwt_secret: str = "",
    redis_url: str | None = None,
    env_extra: dict[str, str] | None = None,
) -> Target:
    port = port or DEFAULT_PORTS[name]
    log_path = RESULTS_DIR / "logs" / f"{name}-{port}.log"
    if name == "ours":
        env = ours_env(
            port=port,
            database_url=database_url,
            jwt_secret=jwt_secret,
            redis_url=redis_url,
            extra=env_extra,
        )
        proc = _popen([chat_server_bin()], env, log_path, cpus)
        target = Target(name, "ours", "127.0.0.1", port, uses_tokens=True)
    elif name in ("py", "node"):
        cmd, env = baseline_cmd(name, port, redis_url)
        proc = _popen(cmd, env, log_path, cpus)
        target = Target(name, "baseline", "127.0.0.1", port, uses_tokens=False)
    else:
        raise ValueError(f"unknown target {name!r}")
    target.procs.append(proc)
    target.pids.append(proc.pid)
    target.logs.append(log_path)
    try:
        wait_live(target.url, procs=target.procs)
    except Exception:
        target.stop()
        raise
    log(f"{name} live on {target.url} (pid {proc.pid}, cpus {cpus or 'any'})")
    return target


def external(url: str, pids: list[int] | None = None, uses_tokens: bool = True) -> Target:
    """A server the bench does not manage (e.g. HAProxy in front of a cluster)."""
    rest = url.split("://", 1)[-1].rstrip("/")
    host, _, port = rest.partition(":")
    return Target(
        "url", "external", host, int(port or 80), pids=list(pids or []), uses_tokens=uses_tokens
    )


def default_cpus() -> tuple[str | None, list[int] | None]:
    """(server cpus for taskset, generator cpus): split the machine in two halves."""
    n = os.cpu_count() or 1
    if n < 2:
        return None, None
    half = n // 2
    server = ",".join(str(c) for c in range(half))
    return server, list(range(half, n))


def cpus_from_args(args: Any) -> tuple[str | None, list[int] | None]:
    """Pinning from the command line (`--no-pin`, `--server-cpus`, `--gen-cpus`), else
    default_cpus()."""
    if args.no_pin:
        return None, None
    server, gen = default_cpus()
    if args.server_cpus is not None:
        server = args.server_cpus
    if args.gen_cpus is not None:
        gen = [int(c) for c in args.gen_cpus.split(",")]
    return server, gen


__all__ = [
    "LOBBY_ROOM_ID",
    "REPO_DIR",
    "Target",
    "baseline_cmd",
    "cpus_from_args",
    "default_cpus",
    "external",
    "start",
]
