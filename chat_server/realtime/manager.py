"""The cluster's Socket.IO manager: python-socketio's AsyncRedisManager (delivering to
local sockets through the encode-once path of `fanout.FastManager`) plus

* control messages: actions every instance performs on its own sockets (disconnect a
  logged-out session, move a user's sockets into a room they just joined), carried on the
  same Redis channel as emits so they need no second subscription;
* a listener we can see: a probe goes round Redis regularly and the listener is
  considered dead when the probe stops coming back (the library's listener has been
  seen to hang without raising); the watchdog then restarts it;
* quick resubscription after a Redis restart (the library backs off up to 60 s).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
import structlog

from chat_server import metrics
from chat_server.realtime.fanout import FastManager

log = structlog.get_logger(__name__)

CONTROL_EVENT = "chat:control"
# Longest pause between attempts to resubscribe while Redis is away.
MAX_RESUBSCRIBE_DELAY_S = 2.0
# How often the listener probe is sent; the listener is dead after three missed probes.
PROBE_INTERVAL_S = 2.0
PROBE_MISSES_ALLOWED = 3

ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]


class ClusterManager(socketio.AsyncRedisManager, FastManager):
    """AsyncRedisManager with control messages and a watched listener."""

    def __init__(self, url: str, instance_id: str):
        super().__init__(
            url,
            channel="chat-socketio",
            redis_options={
                "socket_connect_timeout": 3,
                "socket_keepalive": True,
                "health_check_interval": 10,
            },
        )
        self.instance_id = instance_id
        self.control_handler: ControlHandler | None = None
        self.subscribed = False
        self.last_probe_seen = time.monotonic()
        self._probe_id = uuid.uuid4().hex

    async def publish_control(self, data: dict[str, Any]) -> None:
        """Run a control action on every instance, this one included (even if Redis is down)."""
        await self.emit(CONTROL_EVENT, data, namespace="/chat")

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("event") != CONTROL_EVENT:
            await super()._handle_emit(message)
            return
        data = message.get("data")
        payload = data[0] if isinstance(data, list) and data else data
        if not isinstance(payload, dict):
            return
        if payload.get("op") == "probe":
            if payload.get("probe") == self._probe_id:
                self.last_probe_seen = time.monotonic()
            return
        if self.control_handler is not None:
            await self.control_handler(payload)

    async def send_probe(self) -> None:
        """Publish a probe that only this instance's listener acts on.

        It carries a foreign host id: the library's listener skips messages from its own
        host, and the probe must travel the whole way through Redis and the listener.
        """
        await self._publish(
            {
                "method": "emit",
                "event": CONTROL_EVENT,
                "data": [{"op": "probe", "probe": self._probe_id}],
                "namespace": "/chat",
                "room": None,
                "skip_sid": None,
                "callback": None,
                "host_id": "probe-" + self._probe_id,
            }
        )

    @property
    def listener_alive(self) -> bool:
        return time.monotonic() - self.last_probe_seen < PROBE_INTERVAL_S * PROBE_MISSES_ALLOWED

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:  # pragma: no cover - I/O
        delay = 0.25
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                    self.subscribed = True
                    # A fresh subscription counts as a returned probe: readiness and the
                    # metric recover now, not at the next probe round (and the metric is
                    # right from the start). A deaf listener still shows within 3 probes.
                    self.last_probe_seen = time.monotonic()
                    metrics.REDIS_LISTENER_UP.set(1)
                    delay = 0.25
                    log.info("redis_listener_subscribed", instance=self.instance_id)
                async for message in self.pubsub.listen():
                    yield message
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if subscribed:
                    log.warning("redis_listener_lost", error=str(exc))
                subscribed = False
                self.subscribed = False
                metrics.REDIS_LISTENER_UP.set(0)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RESUBSCRIBE_DELAY_S)

    def restart_listener(self) -> None:
        """Replace the listener task (it died, or stopped delivering probes)."""
        thread = getattr(self, "thread", None)
        if thread is not None and not thread.done():
            thread.cancel()
        self.connected = False
        self.subscribed = False
        self.thread = self.server.start_background_task(self._thread)
        log.warning("redis_listener_restarted", instance=self.instance_id)
