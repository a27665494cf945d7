"""What the operations endpoints report about a running instance (issue 5, docs/contract.md §10):
connections up and down in /metrics, the Redis listener, readiness failing while an
instance drains after SIGTERM."""

from __future__ import annotations

import asyncio
import signal

import pytest

from tests.cluster.peers import Peer, eventually
from tests.cluster.procs import Cluster

pytestmark = pytest.mark.timeout(90)


async def test_metrics_count_connections_up_and_down(module_cluster: Cluster, register):
    app1 = module_cluster[0]
    alice = await register(app1)
    before = await app1.metrics()
    assert before["chat_redis_listener_up"] == 1
    status, body = await app1.ready()
    assert status == 200, body
    assert body["checks"] == {
        "draining": "no",
        "database": "ok",
        "redis": "ok",
        "redisListener": "ok",
    }

    peer = await Peer("alice", app1.url, alice.access_token).start()
    try:
        up = await app1.metrics()
        assert up["chat_active_connections"] == before["chat_active_connections"] + 1
        assert up["chat_connects_total"] == before["chat_connects_total"] + 1
        await peer.call_ok("sync", {"rooms": {}})
    finally:
        await peer.close()

    async def back_down() -> bool:
        m = await app1.metrics()
        return (
            m["chat_active_connections"] == before["chat_active_connections"]
            and m["chat_disconnects_total"] == before["chat_disconnects_total"] + 1
        )

    await eventually(back_down, "the closed connection counted down")
    after = await app1.metrics()
    assert after["chat_connects_total"] == before["chat_connects_total"] + 1
    # Socket events are counted by outcome, HTTP requests by route.
    assert any(k.startswith("chat_socket_events_total{") for k in after)
    assert any(k.startswith("chat_http_request_duration_seconds_count{") for k in after)


async def test_readiness_fails_while_an_instance_drains(module_cluster: Cluster, register):
    """An extra instance (not behind HAProxy) with a client on it gets SIGTERM: readiness
    turns 503 with draining=yes at once, /metrics and /health/live still answer, the client
    is told `server_shutdown` and disconnected, new sockets are refused, and the process
    exits cleanly."""
    app3 = module_cluster.make_instance("app3")
    app3.start()
    await app3.wait_ready()
    alice = await register(app3)
    peer = await Peer("alice", app3.url, alice.access_token).start()
    try:
        assert (await app3.metrics())["chat_active_connections"] == 1
        app3.signal(signal.SIGTERM)

        async def draining() -> dict | None:
            status, body = await app3.ready()
            return body if status == 503 else None

        body = await eventually(draining, "readiness 503 after SIGTERM", timeout=5)
        assert body["status"] == "unavailable"
        assert body["checks"]["draining"] == "yes"
        assert body["checks"]["database"] == "ok"
        metrics = await app3.metrics()
        assert metrics["chat_active_connections"] == 1
        assert app3.alive

        await eventually(lambda: peer.events["server_shutdown"], "server_shutdown", timeout=15)
        notice = peer.events["server_shutdown"][0]
        assert isinstance(notice["reconnectAfterMs"], int)
        await eventually(lambda: peer.disconnects >= 1, "the drained socket closed", timeout=15)
        assert await app3.wait_exit() == 0
        # While draining, and after the exit, the client's reconnects were refused.
        assert peer.connects == 1
        assert "draining" in app3.log(200)
        assert "stopped" in app3.log(200)
    finally:
        await peer.close()
        if app3.alive:
            app3.kill()
            await asyncio.to_thread(app3.proc.wait)  # type: ignore[union-attr]
