"""`chat-server`: `serve` (default) runs one instance, `migrate` only applies migrations,
`cluster -n N` runs N instances behind HAProxy on this machine."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys

from aiohttp import web

from chat_server.config import Config, ConfigError
from chat_server.logging import configure_logging

# Pending TCP connections the kernel queues for us: a reconnect storm (an instance died,
# thousands of clients come back at once) overflows the default 128 and gets resets.
LISTEN_BACKLOG = 4096
# Time in-flight HTTP requests get to finish once the listener is closed.
SHUTDOWN_TIMEOUT_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chat-server", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run one instance (the default)")
    serve.add_argument("--host", help="listen address (HOST)")
    serve.add_argument("--port", type=int, help="listen port (PORT)")
    sub.add_parser("migrate", help="apply database migrations and exit")
    cluster = sub.add_parser("cluster", help="run N instances behind HAProxy on this machine")
    cluster.add_argument("-n", "--instances", type=int, default=2)
    cluster.add_argument("--port", type=int, help="HAProxy's port (PORT, default 8080)")
    cluster.add_argument("--host", help="HAProxy's address (HOST)")
    cluster.add_argument("--first-app-port", type=int, default=None, help="default: PORT + 1")
    args = parser.parse_args(argv)
    command = args.command or "serve"
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"chat-server: configuration error: {exc}", file=sys.stderr)
        return 2
    overrides = {
        k: v
        for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
        if v is not None
    }
    config = dataclasses.replace(config, **overrides)
    configure_logging(config.log_level, config.log_format, config.instance_id)
    if command == "migrate":
        return asyncio.run(_migrate(config))
    if command == "cluster":
        from chat_server.cluster import run_cluster

        return run_cluster(config, args.instances, args.first_app_port)
    return _serve(config)


def _serve(config: Config) -> int:
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is optional on exotic platforms
        pass
    asyncio.run(_run(config))
    return 0


async def _run(config: Config) -> None:
    """Serve until SIGTERM/SIGINT, then shut down gracefully (docs/contract.md §7): readiness
    fails first, sockets are moved away in a trickle, in-flight work finishes, pools close."""
    from chat_server.app import create_app, drain

    app = create_app(config)
    runner = web.AppRunner(
        app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True, backlog=LISTEN_BACKLOG)
    await site.start()
    print(
        f"chat-server {config.instance_id}: listening on http://{config.host}:{config.port}",
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(f"chat-server {config.instance_id}: draining", flush=True)
    try:
        await drain(app)
    finally:
        await runner.cleanup()
    print(f"chat-server {config.instance_id}: stopped", flush=True)


async def _migrate(config: Config) -> int:
    from chat_server.store.database import create_pool, start_embedded_postgres
    from chat_server.store.migrate import migrate

    embedded = None
    dsn = config.database_url
    if dsn is None:
        dsn, embedded = await start_embedded_postgres(config.data_dir)
    pool = await create_pool(dsn, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            applied = await migrate(conn)
    finally:
        await pool.close()
        if embedded is not None:
            await asyncio.to_thread(embedded.cleanup)
    print(f"applied {len(applied)} migration(s): {applied}" if applied else "schema is up to date")
    return 0
