"""`create_app(config)`: wires transports, services and resources into one aiohttp app.

Resources each get one `cleanup_ctx`, started in order and closed in reverse:
garbage-collector policy -> database (embedded PostgreSQL when no DATABASE_URL, pool,
migrations) -> Redis -> domain services -> background tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from chat_server import webui
from chat_server.api import (
    asyncapi,
    auth,
    direct,
    emoji,
    events_page,
    files,
    health,
    message_changes,
    messages,
    openapi,
    pins,
    reactions,
    rooms,
    threads,
    users,
)
from chat_server.api.cors import setup_cors
from chat_server.api.keys import CONFIG, POOL, REDIS, SERVICES, SIO, STATE
from chat_server.api.middleware import drain_guard, errors, request_context, security_headers
from chat_server.config import Config
from chat_server.events import Publisher
from chat_server.gcpolicy import FROZEN_CHECK_INTERVAL_S
from chat_server.gcpolicy import POLICY as GC_POLICY
from chat_server.realtime import NAMESPACE
from chat_server.realtime.fanout import stop_pings
from chat_server.realtime.lifecycle import drain as drain_sockets
from chat_server.realtime.lifecycle import watch_listener
from chat_server.realtime.manager import ClusterManager
from chat_server.realtime.namespace import ChatNamespace
from chat_server.realtime.publisher import SocketPublisher
from chat_server.realtime.server import create_socket_server
from chat_server.redis_pool import redis_client
from chat_server.services.auth import AuthService
from chat_server.services.blacklist import MemoryBlacklist, RedisBlacklist, TokenBlacklist
from chat_server.services.changes import MessageChanges
from chat_server.services.direct import DirectService
from chat_server.services.edits import EditService
from chat_server.services.files import FileService
from chat_server.services.messages import MessageService
from chat_server.services.pins import PinService
from chat_server.services.posting import MessageWriter
from chat_server.services.presence import (
    MemoryPresenceRegistry,
    PresenceService,
    RedisPresenceRegistry,
)
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.reactions import ReactionService
from chat_server.services.reads import ReadService
from chat_server.services.registry import Services
from chat_server.services.rooms import RoomService
from chat_server.services.scan import MalwareScanner
from chat_server.services.tokens import TokenCodec
from chat_server.services.typing import TypingService
from chat_server.services.users import UserService
from chat_server.store.database import create_pool, start_embedded_postgres
from chat_server.store.migrate import migrate

log = structlog.get_logger(__name__)

STATIC_DIR = Path(__file__).parent / "static"
# This app's /chat namespace, for the lifecycle steps (drain, close). Kept here, not in
# api/keys.py: the REST views never need the realtime stack.
NAMESPACE_KEY = web.AppKey("namespace", ChatNamespace)
# Largest HTTP request body outside uploads: JSON bodies are small.
MAX_JSON_BODY_BYTES = 64 * 1024


def create_app(config: Config) -> web.Application:
    """Build the application; nothing connects until the app starts."""
    config = config.with_dev_secret()
    app = web.Application(
        middlewares=[request_context, drain_guard, errors],
        client_max_size=MAX_JSON_BODY_BYTES,
    )
    app[CONFIG] = config
    app[STATE] = {"draining": False}

    manager = ClusterManager(config.redis_url, config.instance_id) if config.redis_url else None
    sio = create_socket_server(config, manager)
    if config.admin_username and config.admin_password:
        # The Socket.IO Admin UI (admin.socket.io) sees every connection: credentials only.
        sio.instrument(auth={"username": config.admin_username, "password": config.admin_password})
    namespace = ChatNamespace(NAMESPACE, lambda: app[SERVICES])
    sio.register_namespace(namespace)
    sio.attach(app)
    publisher = SocketPublisher(sio, namespace)

    for module in (
        auth,
        users,
        rooms,
        messages,
        threads,
        reactions,
        pins,
        message_changes,
        direct,
        files,
        health,
        openapi,
        asyncapi,
        events_page,
        emoji,
    ):
        app.add_routes(module.routes)
    webui.add_routes(app)
    setup_cors(app, config)
    app.on_response_prepare.append(security_headers)

    app.cleanup_ctx.append(_gc_policy)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_services_ctx(publisher))
    app.cleanup_ctx.append(_background_tasks)
    app[SIO] = sio
    app[NAMESPACE_KEY] = namespace
    return app


async def drain(app: web.Application) -> None:
    """Graceful shutdown, first half: fail readiness, refuse new sockets, move the current
    ones elsewhere and let in-flight writes finish. `runner.cleanup()` does the rest."""
    app[STATE]["draining"] = True
    app[NAMESPACE_KEY].draining = True
    await drain_sockets(app[SIO], app[NAMESPACE_KEY])


async def _database(app: web.Application) -> AsyncIterator[None]:
    """PostgreSQL: the configured URL, else an embedded server under DATA_DIR."""
    config = app[CONFIG]
    embedded = None
    dsn = config.database_url
    if dsn is None:
        dsn, embedded = await start_embedded_postgres(config.data_dir)
    pool = await create_pool(dsn, min_size=config.db_pool_min, max_size=config.db_pool_max)
    if config.run_migrations:
        async with pool.acquire() as conn:
            await migrate(conn)
    app[POOL] = pool
    yield
    await pool.close()
    if embedded is not None:
        await asyncio.to_thread(embedded.cleanup)


async def _redis(app: web.Application) -> AsyncIterator[None]:
    """Redis, when REDIS_URL is set: blacklist, rate limits, presence, readiness."""
    config = app[CONFIG]
    if config.redis_url is None:
        yield
        return
    client = redis_client(config.redis_url, socket_timeout=5, socket_connect_timeout=5)
    await client.ping()
    app[REDIS] = client
    yield
    await client.aclose()


def _services_ctx(publisher: Publisher):  # type: ignore[no-untyped-def]
    async def _services(app: web.Application) -> AsyncIterator[None]:
        """The domain services, built once from the resources above."""
        config = app[CONFIG]
        pool = app[POOL]
        shared_redis = app.get(REDIS)
        blacklist: TokenBlacklist = (
            RedisBlacklist(shared_redis) if shared_redis else MemoryBlacklist()
        )
        limiter = RateLimiter(
            {
                "register": config.rate_limit_register,
                "login": config.rate_limit_login,
                "messages": config.rate_limit_messages,
                "uploads": config.rate_limit_uploads,
                "login_account": config.rate_limit_login_account,
                "rooms": config.rate_limit_rooms,
                "invites": config.rate_limit_invites,
                "typing": config.rate_limit_typing,
                "membership": config.rate_limit_membership,
                "sync": config.rate_limit_sync,
                "profile": config.rate_limit_profile,
            },
            redis_url=config.redis_url,
        )
        codec = TokenCodec(config.jwt_secret, config.access_token_ttl_s)
        registry = RedisPresenceRegistry(shared_redis) if shared_redis else MemoryPresenceRegistry()
        presence = PresenceService(
            pool, publisher, registry, max_connections_per_user=config.max_connections_per_user
        )
        typing = TypingService(publisher, pool)
        store = MessageWriter(pool, limiter, typing)
        changes = MessageChanges(pool, publisher)
        app[SERVICES] = Services(
            auth=AuthService(
                pool,
                codec,
                blacklist,
                publisher,
                bcrypt_rounds=config.bcrypt_rounds,
                refresh_ttl_s=config.refresh_token_ttl_s,
                refresh_reuse_grace_s=config.refresh_reuse_grace_s,
            ),
            users=UserService(pool, bcrypt_rounds=config.bcrypt_rounds, presence=presence),
            rooms=RoomService(pool, publisher, presence, typing, limiter),
            messages=MessageService(pool, publisher, store, limiter),
            direct=DirectService(pool, publisher, store, presence),
            edits=EditService(pool, changes, limiter),
            files=FileService(
                pool,
                limiter,
                config.upload_dir,
                config.upload_max_bytes,
                MalwareScanner(config.clamd_address) if config.clamd_address else None,
            ),
            reads=ReadService(pool, publisher),
            presence=presence,
            typing=typing,
            limiter=limiter,
            reactions=ReactionService(changes, limiter),
            pins=PinService(pool, changes, limiter),
        )
        log.info("services_ready", instance=config.instance_id)
        yield
        await limiter.close()

    return _services


async def _background_tasks(app: web.Application) -> AsyncIterator[None]:
    """Presence flushing and heartbeats, the Redis listener watchdog; on shutdown this
    instance's users go offline."""
    presence = app[SERVICES].presence
    tasks = [
        asyncio.create_task(presence.run(), name="presence"),
        asyncio.create_task(_purge_tokens(app), name="token-housekeeping"),
    ]
    sio = app[SIO]
    if isinstance(sio.manager, ClusterManager):
        # python-socketio starts its Redis listener on the first connection; start it now
        # so that readiness can vouch for it before HAProxy sends anyone here.
        if not sio.manager_initialized:
            sio.manager_initialized = True
            sio.manager.initialize()
        tasks.append(asyncio.create_task(watch_listener(sio.manager), name="listener-watchdog"))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    await stop_pings(sio)
    await app[NAMESPACE_KEY].close()
    await presence.close()
    if isinstance(sio.manager, ClusterManager):
        await sio.manager.close()


async def _gc_policy(app: web.Application) -> AsyncIterator[None]:
    """Keep full garbage collections from stalling the loop at 10k connections
    (chat_server/gcpolicy.py): install the policy, check the frozen set's growth."""

    async def check() -> None:
        while True:
            await asyncio.sleep(FROZEN_CHECK_INTERVAL_S)
            GC_POLICY.maybe_collect_frozen()

    GC_POLICY.install()
    task = asyncio.create_task(check(), name="gc-policy")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    GC_POLICY.uninstall()


# Expired refresh tokens are deleted this often (each instance; the DELETE is idempotent).
TOKEN_PURGE_INTERVAL_S = 3600.0


async def _purge_tokens(app: web.Application) -> None:
    """Keep refresh_tokens from growing forever: every login leaves rows behind."""
    while True:
        try:
            await app[SERVICES].auth.purge_expired_tokens()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("token_purge_failed", exc_info=True)
        await asyncio.sleep(TOKEN_PURGE_INTERVAL_S)
