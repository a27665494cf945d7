"""The cluster's Socket.IO manager: python-socketio's AsyncRedisManager (delivering to
local sockets through the encode-once path of `fanout.FastManager`) plus

* control messages: actions every instance performs on its own sockets (disconnect a
  logged-out session, move a user's sockets into a room they just joined), carried on the
  same Redis channel as emits so they need no second subscription;
* a listener we can see: a probe goes round Redis regularly and the listener is
  considered dead when the probe stops coming back (the library's listener has been
  seen to hang without raising); the watchdog then restarts it;
* quick resubscription after a Redis restart (the library backs off up to 60 s);
* publishing that fails fast while Redis is away: one attempt, then a short pause before
  the next (the library tries twice per emit and logs an error each time, and with an
  unreachable host every emit, hence every message ack, would wait for the connect
  timeout). Local delivery never waits for Redis, and an emit to one of this instance's
  own sockets (its sid) does not go through Redis at all.

The listener has a Redis client of its own: the library shares one between publishing and
listening and replaces it on every reconnect, leaking the old one.

These hook into python-socketio's AsyncRedisManager by overriding its private methods
(CLUSTER_HOOKS). Control messages (session revocation, room joins) have no library path to
fall back to, so a release without these hooks stops the server at start with a clear error
rather than running a cluster that silently drops them. The local fan-out's internals are
checked by `internals.fast_path_problems` and fall back instead (FastManager).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
import structlog

from chat_server import metrics
from chat_server.realtime import internals
from chat_server.realtime.fanout import FastManager
from chat_server.redis_pipe import RedisPipe
from chat_server.redis_pool import redis_client

log = structlog.get_logger(__name__)

CONTROL_EVENT = "chat:control"
# Longest pause between attempts to resubscribe while Redis is away.
MAX_RESUBSCRIBE_DELAY_S = 2.0
# After a failed publish, emits skip Redis for this long (cross-instance emits are lost
# while Redis is away anyway; clients fill the gap with `sync`).
PUBLISH_PAUSE_S = 1.0
# How often the listener probe is sent; the listener is dead after three missed probes.
PROBE_INTERVAL_S = 2.0
PROBE_MISSES_ALLOWED = 3

ControlHandler = Callable[[dict[str, Any]], Awaitable[None]]

# A skip_sid entry that stands for every socket of a room (see ClusterManager._expand_skip).
EXCLUDE_ROOM_PREFIX = "\x00exclude-room:"


def exclude_room_marker(room: str) -> str:
    """A skip_sid entry meaning "not the sockets in `room`", on every instance."""
    return EXCLUDE_ROOM_PREFIX + room


def _is_marker(entry: Any) -> bool:
    return isinstance(entry, str) and entry.startswith(EXCLUDE_ROOM_PREFIX)


# AsyncRedisManager's private methods ClusterManager overrides, with the parameters it
# relies on: an override of a method the library no longer calls would be dead code.
CLUSTER_HOOKS: dict[str, tuple[str, ...]] = {
    "_handle_emit": ("message",),
    "_publish": ("data",),
    "_redis_listen_with_retries": (),
    "_thread": (),
}


def cluster_hook_problems(base: type = socketio.AsyncRedisManager) -> list[str]:
    """The CLUSTER_HOOKS that `base` lacks or calls with other parameters."""
    found = [internals.callable_with(base, name, *params) for name, params in CLUSTER_HOOKS.items()]
    return [p for p in found if p]


class ClusterManager(socketio.AsyncRedisManager, FastManager):
    """AsyncRedisManager with control messages and a watched listener."""

    def __init__(self, url: str, instance_id: str):
        problems = cluster_hook_problems()
        if problems:
            raise RuntimeError(
                "python-socketio's AsyncRedisManager lacks the hooks the cluster manager "
                f"overrides ({'; '.join(problems)}; versions {internals.library_versions()}): "
                "install a python-socketio version that setup.cfg allows"
            )
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
        self._publish_paused_until = 0.0
        self._publish_failing = False
        self._listen_client: Any = None
        self._publish_pipe: RedisPipe | None = None

    async def emit(
        self,
        event: str,
        data: Any,
        namespace: str | None = None,
        room: Any = None,
        skip_sid: Any = None,
        callback: Any = None,
        to: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit on every instance; an emit to one of this instance's own sockets (its sid
        room) stays here. Sids are unique to the instance that holds the socket, so every
        other instance would decode such a message only to drop it: at a connect storm
        that is one wasted Redis round trip and N-1 wasted decodes per handshake."""
        room = to or room
        namespace = namespace or "/"
        if callback is None and isinstance(room, str) and self._is_local_sid(room, namespace):
            kwargs["ignore_queue"] = True
        await super().emit(
            event,
            data,
            namespace=namespace,
            room=room,
            skip_sid=skip_sid,
            callback=callback,
            **kwargs,
        )

    def _is_local_sid(self, sid: str, namespace: str) -> bool:
        """Whether `sid` is a socket of this instance (also while its connect handler runs).
        Without the fast path (FastManager.fast_path): never, every emit takes the library's
        path through Redis."""
        if not self.fast_path:
            return False
        return bool(self.is_connected(sid, namespace) or self.is_pre_connected(sid, namespace))

    async def publish_control(self, data: dict[str, Any]) -> None:
        """Run a control action on every instance, this one included (even if Redis is down)."""
        await self.emit(CONTROL_EVENT, data, namespace="/chat")

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        if message.get("event") != CONTROL_EVENT:
            await super()._handle_emit(self._expand_skip(message))
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

    def _expand_skip(self, message: dict[str, Any]) -> dict[str, Any]:
        """Replace `exclude_room_marker(room)` entries of skip_sid by this instance's sids
        in that room: the sending instance only knows its own sockets, so "everyone in the
        room but this user" must be resolved by each instance for its own."""
        skip = message.get("skip_sid")
        if not isinstance(skip, list) or not any(_is_marker(s) for s in skip):
            return message
        namespace = message.get("namespace") or "/"
        expanded: list[Any] = []
        for entry in skip:
            if _is_marker(entry):
                room = entry[len(EXCLUDE_ROOM_PREFIX) :]
                expanded.extend(sid for sid, _ in self.get_participants(namespace, room))
            else:
                expanded.append(entry)
        return {**message, "skip_sid": expanded}

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

    async def _publish(self, data: Any) -> Any:  # pragma: no cover - I/O
        """One attempt; on failure, skip Redis for PUBLISH_PAUSE_S and log once per outage.

        Publishing goes over a `RedisPipe` (one pipelined connection, no pool): every
        message makes one PUBLISH, which through redis-py cost ~100-150 µs of CPU here.
        """
        if time.monotonic() < self._publish_paused_until:
            return None
        try:
            if self._publish_pipe is None:
                self._publish_pipe = RedisPipe(self.redis_url)
            result = await self._publish_pipe.execute(
                "PUBLISH", self.channel, self.json.dumps(data)
            )
        except Exception as exc:
            self._publish_paused_until = time.monotonic() + PUBLISH_PAUSE_S
            if not self._publish_failing:
                self._publish_failing = True
                log.warning("redis_publish_failing", error=str(exc))
            return None
        if self._publish_failing:
            self._publish_failing = False
            log.info("redis_publish_recovered")
        return result

    async def close(self) -> None:
        """Shutdown: close the publishing connection (the listener ends with the loop)."""
        if self._publish_pipe is not None:
            await self._publish_pipe.close()

    async def _redis_listen_with_retries(self) -> AsyncIterator[Any]:  # pragma: no cover - I/O
        delay = 0.25
        subscribed = False
        while True:
            try:
                if not subscribed:
                    await self._close_listen_client()
                    self._listen_client = redis_client(self.redis_url, **self.redis_options)
                    self.pubsub = self._listen_client.pubsub(ignore_subscribe_messages=True)
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                    self.subscribed = True
                    # A fresh subscription counts as a returned probe: readiness and the
                    # metric recover now, not at the next probe round (and the metric is
                    # right from the start). A deaf listener still shows within 3 probes.
                    self.last_probe_seen = time.monotonic()
                    metrics.REDIS_LISTENER_UP.set(1)
                    # Redis answers again: publishing need not wait out its pause.
                    self._publish_paused_until = 0.0
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

    async def _close_listen_client(self) -> None:  # pragma: no cover - I/O
        client, self._listen_client = self._listen_client, None
        if client is None:
            return
        with contextlib.suppress(Exception):
            await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await client.aclose()

    def restart_listener(self) -> None:
        """Replace the listener task (it died, or stopped delivering probes)."""
        thread = getattr(self, "thread", None)
        if thread is not None and not thread.done():
            thread.cancel()
        self.subscribed = False
        self.thread = self.server.start_background_task(self._thread)
        log.warning("redis_listener_restarted", instance=self.instance_id)
