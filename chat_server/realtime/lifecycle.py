"""Instance lifecycle on the realtime side: watching the Redis listener, and draining
sockets on shutdown so clients move to another instance without losing anything."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time

import socketio
import structlog
from aiohttp import WSCloseCode

from chat_server import metrics
from chat_server.realtime import NAMESPACE
from chat_server.realtime.manager import PROBE_INTERVAL_S, ClusterManager
from chat_server.realtime.namespace import ChatNamespace

log = structlog.get_logger(__name__)

# After readiness turns false, HAProxy needs `fall` (2) failed checks at `inter` (1 s)
# before it stops sending new clients here.
DRAIN_NOTICE_S = 2.5
# Sockets are closed one by one over this window so that their reconnects spread over
# the remaining instances instead of arriving as one thundering herd.
DRAIN_TRICKLE_S = 3.0
# How long closing one socket may wait for its client to collect the CLOSE packet.
CLOSE_WAIT_S = 3.0
# How long shutdown waits for socket events already being handled (message writes).
INFLIGHT_WAIT_S = 10.0


async def watch_listener(manager: ClusterManager) -> None:
    """Probe the Redis listener end to end; restart it when probes stop coming back."""
    while True:
        await asyncio.sleep(PROBE_INTERVAL_S)
        try:
            await manager.send_probe()
        except Exception as exc:  # Redis down: the probe cannot even be sent
            log.debug("listener_probe_failed", error=str(exc))
        thread = getattr(manager, "thread", None)
        alive = manager.listener_alive and thread is not None and not thread.done()
        metrics.REDIS_LISTENER_UP.set(1 if alive else 0)
        if thread is None or thread.done():
            manager.restart_listener()
        elif not manager.listener_alive and manager.subscribed:
            # Subscribed but deaf: the connection is half-open. Start over.
            manager.restart_listener()
            manager.last_probe_seen = time.monotonic()


async def drain(
    sio: socketio.AsyncServer,
    namespace: ChatNamespace,
    *,
    notice_s: float = DRAIN_NOTICE_S,
    trickle_s: float = DRAIN_TRICKLE_S,
) -> None:
    """Move this instance's clients elsewhere (readiness must already be failing).

    Each socket is told `server_shutdown` {reconnectAfterMs} and then its Engine.IO
    connection is closed at a jittered moment. Closing the transport (rather than sending
    a Socket.IO disconnect) makes standard clients reconnect by themselves; through
    HAProxy they land on a live instance and resume with `sync`.
    """
    await asyncio.sleep(notice_s)
    sids = list(namespace.sockets)
    random.shuffle(sids)
    log.info("drain_started", sockets=len(sids))
    start = time.monotonic()
    closing: list[asyncio.Task[None]] = []
    for i, sid in enumerate(sids):
        at = trickle_s * (i + random.random()) / max(len(sids), 1)  # noqa: S311 - jitter, not crypto
        delay = at - (time.monotonic() - start)
        if delay > 0:
            await asyncio.sleep(delay)
        # One task per socket: closing a socket can wait (see _close_socket) and must not
        # hold up the others' turns.
        closing.append(asyncio.create_task(_close_socket(sio, sid)))
    if closing:
        await asyncio.gather(*closing)
    deadline = time.monotonic() + INFLIGHT_WAIT_S
    while namespace.inflight and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded poll
        await asyncio.sleep(0.05)
    log.info("drain_finished", sockets=len(sids), inflight=namespace.inflight)


async def _close_socket(sio: socketio.AsyncServer, sid: str) -> None:
    """Tell one socket `server_shutdown`, then close its Engine.IO connection.

    Closing waits until the client has collected the CLOSE packet. A long-polling client
    that already left (HAProxy sends its requests elsewhere as soon as this instance fails
    its health checks) never will, so the wait is bounded; the socket is closed either way
    and Engine.IO forgets it on its next service round.
    """
    with contextlib.suppress(Exception):
        await sio.emit(
            "server_shutdown",
            {"reconnectAfterMs": int(random.uniform(0, 1000))},  # noqa: S311
            to=sid,
            namespace=NAMESPACE,
            ignore_queue=True,
        )
    eio_sid = sio.manager.eio_sid_from_sid(sid, NAMESPACE)
    if eio_sid is None:
        return
    try:
        async with asyncio.timeout(CLOSE_WAIT_S):
            # A WebSocket is closed with a real close frame (1012 "service restart"): an
            # Engine.IO CLOSE packet alone leaves browsers' sockets open until the ping
            # timeout. The client sees the transport close and reconnects by itself.
            sock = sio.eio.sockets.get(eio_sid)
            ws = getattr(sock, "fast_ws", None)
            if ws is not None and not ws.closed:
                await ws.close(code=WSCloseCode.SERVICE_RESTART, message=b"server restart")
                # Engine.IO's reader sees the closed transport and closes the socket itself
                # (disconnect handlers run). A CLOSE packet queued now would never be
                # collected (the writer is gone) and `eio.disconnect` would wait for it.
                while not sock.closed:  # noqa: ASYNC110 - bounded by the timeout above
                    await asyncio.sleep(0.01)
                return
            await sio.eio.disconnect(eio_sid)
    except TimeoutError:
        log.info("drain_close_unacknowledged", sid=sid)
    except Exception as exc:
        log.warning("drain_close_failed", sid=sid, error=str(exc))
