"""`chat-server cluster -n N`: N app instances and HAProxy on this machine.

For development, tests and the benchmark: the instances share one PostgreSQL
(DATABASE_URL, or an embedded one started here) and one Redis (REDIS_URL, default the
local server), and HAProxy (from PATH) listens on PORT with the repository's haproxy.cfg.
Ctrl-C or SIGTERM stops everything; an instance that dies is reported, not restarted
(HAProxy sends its clients elsewhere), so crashes stay visible.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from chat_server.config import Config

HAPROXY_CFG = Path(__file__).resolve().parents[1] / "haproxy.cfg"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# How long to wait for every instance's /health/ready at start.
START_TIMEOUT_S = 60.0
# How long instances get to drain on stop before they are killed.
STOP_TIMEOUT_S = 20.0


def haproxy_env(
    listen: str, backends: list[str], *, check_inter: str = "1s", maxconn: int = 50000
) -> dict[str, str]:
    """The environment haproxy.cfg reads."""
    env = {"CHAT_LISTEN": listen, "CHAT_CHECK_INTER": check_inter, "CHAT_MAXCONN": str(maxconn)}
    for i, backend in enumerate(backends, start=1):
        env[f"CHAT_BACKEND_{i}"] = backend
    return env


def haproxy_maxconn(wanted: int = 50000) -> int:
    """As many connections as this process's file-descriptor limit lets HAProxy hold (two
    descriptors per proxied connection), raising the soft limit to the hard one first."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    limit = wanted * 2 + 1000 if hard == resource.RLIM_INFINITY else hard
    return max(1000, min(wanted, (limit - 1000) // 2))


def run_cluster(config: Config, instances: int, first_app_port: int | None) -> int:
    """Start the cluster and supervise it until a signal arrives."""
    if not 1 <= instances <= 8:
        print("chat-server cluster: -n must be 1..8 (haproxy.cfg has 8 slots)", file=sys.stderr)
        return 2
    haproxy = shutil.which("haproxy")
    if haproxy is None:
        print(
            "chat-server cluster: haproxy is not installed (apt-get install haproxy)",
            file=sys.stderr,
        )
        return 2
    embedded = None
    database_url = config.database_url
    if database_url is None:
        from chat_server.store.database import start_embedded_postgres

        database_url, embedded = asyncio.run(start_embedded_postgres(config.data_dir))
    env_base = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": config.redis_url or DEFAULT_REDIS_URL,
        "DATA_DIR": str(config.data_dir),
        # One secret for every instance, settled here: in development each instance would
        # otherwise race to create the shared one in DATA_DIR, and the loser fails to start.
        "JWT_SECRET": config.with_dev_secret().jwt_secret,
    }
    first = first_app_port or config.port + 1
    ports = [first + i for i in range(instances)]
    procs: list[subprocess.Popen[bytes]] = []
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        # Migrate once up front so that instances start without contending for the lock.
        subprocess.run([sys.executable, "-m", "chat_server", "migrate"], env=env_base, check=True)
        for i, port in enumerate(ports, start=1):
            env = {**env_base, "HOST": "127.0.0.1", "PORT": str(port), "INSTANCE_ID": f"app{i}"}
            procs.append(subprocess.Popen([sys.executable, "-m", "chat_server", "serve"], env=env))
        for port in ports:
            _wait_ready(port)
        listen = f"{config.host}:{config.port}"
        backends = [f"127.0.0.1:{p}" for p in ports]
        hap_env = {**os.environ, **haproxy_env(listen, backends, maxconn=haproxy_maxconn())}
        procs.append(subprocess.Popen([haproxy, "-W", "-db", "-f", str(HAPROXY_CFG)], env=hap_env))  # noqa: S603
        print(f"chat-server cluster: instances on {ports}, HAProxy on http://{listen}", flush=True)
        reported: set[int] = set()
        while not stop:
            for proc in procs:
                if proc.poll() is not None and proc.pid not in reported:
                    reported.add(proc.pid)
                    print(
                        f"chat-server cluster: {proc.args!r} exited with {proc.returncode}",
                        flush=True,
                    )
            time.sleep(0.5)
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        if embedded is not None:
            embedded.cleanup()


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    url = f"http://127.0.0.1:{port}/health/ready"
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # local health URL  # nosec B310
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"instance on port {port} did not become ready")
        time.sleep(0.2)
