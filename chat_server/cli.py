"""`chat-server`: `serve` (default) runs the server, `migrate` only applies migrations."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys

from aiohttp import web

from chat_server.config import Config, ConfigError
from chat_server.logging import configure_logging

# Time in-flight requests get to finish once shutdown starts.
SHUTDOWN_TIMEOUT_S = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="chat-server", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    parser.add_argument("--host", help="listen address (HOST)")
    parser.add_argument("--port", type=int, help="listen port (PORT)")
    args = parser.parse_args(argv)
    try:
        config = Config.from_env()
    except ConfigError as exc:
        print(f"chat-server: configuration error: {exc}", file=sys.stderr)
        return 2
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    config = dataclasses.replace(config, **overrides)
    configure_logging(config.log_level, config.log_format, config.instance_id)
    if args.command == "migrate":
        return asyncio.run(_migrate(config))
    return _serve(config)


def _serve(config: Config) -> int:
    from chat_server.app import create_app

    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvloop is optional on exotic platforms
        pass
    web.run_app(
        create_app(config),
        host=config.host,
        port=config.port,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        access_log=None,
        print=lambda msg: print(
            f"chat-server {config.instance_id}: listening on http://{config.host}:{config.port}",
            flush=True,
        ),
    )
    return 0


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
