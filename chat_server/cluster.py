"""`chat-server cluster -n N`: N app instances and HAProxy on this machine, for development.

This module owns the command: its settings (the instances share one PostgreSQL,
DATABASE_URL or an embedded one started here, one Redis, REDIS_URL or the local server,
and one JWT secret; HAProxy listens on HOST:PORT, the instances on the following ports),
its messages, and supervision until Ctrl-C or SIGTERM, which stops everything; an
instance that dies is reported, not restarted (HAProxy sends its clients elsewhere), so
crashes stay visible. Starting, waiting for and stopping processes, and HAProxy with the
packaged haproxy.cfg, are chat_server/launcher.py's (shared with the tests and the
benchmark): this module must not start processes by itself, nor read files of a checkout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from types import FrameType

from chat_server.config import Config
from chat_server.launcher import (
    MAX_INSTANCES,
    STOP_TIMEOUT_S,
    HAProxy,
    Instance,
    LaunchError,
    ProcessGroup,
    find_haproxy,
    haproxy_maxconn,
    run_migrations,
    start_all,
)

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Between two looks at the processes while supervising.
SUPERVISE_INTERVAL_S = 0.5


def _say(message: str) -> None:
    print(f"chat-server cluster: {message}", file=sys.stderr, flush=True)


def run_cluster(config: Config, instances: int, first_app_port: int | None) -> int:
    """Start the cluster and supervise it until a signal arrives."""
    if not 1 <= instances <= MAX_INSTANCES:
        _say(f"-n must be 1..{MAX_INSTANCES} (haproxy.cfg has {MAX_INSTANCES} slots)")
        return 2
    try:
        find_haproxy()
    except LaunchError as exc:
        _say(str(exc))
        return 2
    embedded = None
    database_url = config.database_url
    if database_url is None:
        from chat_server.store.database import start_embedded_postgres

        database_url, embedded = asyncio.run(start_embedded_postgres(config.data_dir))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": config.redis_url or DEFAULT_REDIS_URL,
        "DATA_DIR": str(config.data_dir),
        # One secret for every instance, settled here: in development each instance would
        # otherwise race to create the shared one in DATA_DIR, and the loser fails to start.
        "JWT_SECRET": config.with_dev_secret().jwt_secret,
    }
    first = first_app_port or config.port + 1
    group = ProcessGroup()
    apps = [Instance(group, f"app{i + 1}", first + i, env) for i in range(instances)]
    stop = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        run_migrations(env)
        start_all(apps)
        proxy = HAProxy(
            group,
            [app.address for app in apps],
            host=config.host,
            port=config.port,
            maxconn=haproxy_maxconn(),
        ).start()
        ports = [app.port for app in apps]
        print(f"chat-server cluster: instances on {ports}, HAProxy on {proxy.url}", flush=True)
        reported: set[int] = set()
        while not stop:
            for proc in group.exited():
                if proc.pid not in reported:
                    reported.add(proc.pid)
                    _say(f"{proc.args!r} exited with {proc.returncode}")
            time.sleep(SUPERVISE_INTERVAL_S)
        return 0
    except (LaunchError, subprocess.CalledProcessError) as exc:
        _say(str(exc))
        return 1
    finally:
        group.stop(STOP_TIMEOUT_S)
        if embedded is not None:
            embedded.cleanup()
