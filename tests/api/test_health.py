"""Operations endpoints: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from chat_server.api.keys import STATE
from tests.conftest import REDIS_URL


async def test_live(server, http):
    async with http.get(f"{server.url}/health/live") as resp:
        assert resp.status == 200
        assert (await resp.json())["status"] == "ok"


async def test_ready_with_database(server, http):
    async with http.get(f"{server.url}/health/ready") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert "redis" not in body["checks"]  # no REDIS_URL: nothing to check


async def test_ready_with_redis(start_server, http):
    """With REDIS_URL, readiness also covers Redis (and the cluster listener, which may take
    a moment to subscribe after start-up: ready is awaited, not assumed)."""
    server = await start_server(redis_url=REDIS_URL)
    body: dict = {}
    async with asyncio.timeout(15):
        while True:
            async with http.get(f"{server.url}/health/ready") as resp:
                body = await resp.json()
                if resp.status == 200:
                    break
                assert resp.status == 503, body
            await asyncio.sleep(0.05)
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "ok"


async def test_not_ready_while_draining(server, http):
    server.app[STATE]["draining"] = True
    async with http.get(f"{server.url}/health/ready") as resp:
        assert resp.status == 503
        assert (await resp.json())["status"] != "ok"
    async with http.get(f"{server.url}/health/live") as resp:
        assert resp.status == 200  # alive, just not taking new work
    server.app[STATE]["draining"] = False
    async with http.get(f"{server.url}/health/ready") as resp:
        assert resp.status == 200


async def test_health_needs_no_authentication(server, http):
    for path in ("/health/live", "/health/ready", "/metrics"):
        async with http.get(f"{server.url}{path}") as resp:
            assert resp.status == 200, path


async def test_metrics_is_prometheus_text(server, http):
    async with http.get(f"{server.url}/metrics") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/plain"
        assert "version=" in resp.headers["Content-Type"]
        text = await resp.text()
    lines = text.splitlines()
    assert any(line.startswith("# HELP ") for line in lines)
    assert any(line.startswith("# TYPE ") for line in lines)
    # Parsable by Prometheus' own parser, with at least one sample.
    families = list(text_string_to_metric_families(text))
    assert families
    assert any(family.samples for family in families)
    for line in lines:
        if line and not line.startswith("#"):
            float(line.rsplit(" ", 1)[1])
