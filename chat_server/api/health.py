"""/health/live, /health/ready and /metrics for HAProxy and Prometheus."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from chat_server.api.keys import POOL, REDIS, SIO, STATE

routes = web.RouteTableDef()

# A readiness probe must answer quickly even when a dependency hangs.
READY_CHECK_TIMEOUT_S = 2.0


@routes.get("/health/live")
async def live(request: web.Request) -> web.Response:
    """The process is up and its event loop answers."""
    return web.json_response({"status": "ok"})


@routes.get("/health/ready")
async def ready(request: web.Request) -> web.Response:
    """Ready for new connections: database and Redis reachable, not draining."""
    checks: dict[str, str] = {}
    state = request.app[STATE]
    checks["draining"] = "yes" if state.get("draining") else "no"
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT_S):
            await request.app[POOL].fetchval("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready; the reason is reported
        checks["database"] = f"error: {type(exc).__name__}"
    redis = request.app.get(REDIS)
    if redis is not None:
        try:
            async with asyncio.timeout(READY_CHECK_TIMEOUT_S):
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    manager = request.app[SIO].manager
    if hasattr(manager, "listener_alive"):
        # python-socketio's Redis listener: without it this instance is deaf to the cluster.
        alive = manager.subscribed and manager.listener_alive
        checks["redisListener"] = "ok" if alive else "down"
    ok = checks["draining"] == "no" and all(v == "ok" for k, v in checks.items() if k != "draining")
    return web.json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, status=200 if ok else 503
    )


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})
