"""The library internals the fast paths lean on, checked once at start.

`fanout.py` and `fanout.FastManager` go beyond the public APIs of python-engineio,
python-socketio and aiohttp (and of asyncio.Queue, for LeanQueue). A new release may
rename or reshape any of these without notice; an unchecked change would surface as an
AttributeError at the first emit, on every message. `fast_path_problems()` looks at each
one (it exists, is callable, takes the parameters we pass, instances carry the attributes
we read); when anything is off the server logs one `fanout_disabled` warning and runs on
the libraries' own paths (a task per recipient, one ping task per socket, deque-backed
queues): slower, still correct.

What is relied on, by library:

* python-engineio: the aiohttp driver's `WebSocket(handler, server)` class and its
  `_async["websocket"]` slot (replaced by fanout.FastWebSocket, which reads
  `handler.__self__`, the socket's bound `_websocket_handler`); `AsyncServer.create_queue`
  and `start_background_task` (wrapped); `AsyncSocket.schedule_ping` handing its
  coroutine method `_send_ping` to `start_background_task` (taken over by PingScheduler);
  the socket attributes `queue`, `upgraded`, `closing`, `closed`, `last_ping`, `sid`.
* python-socketio: the manager's `rooms`, `callbacks`, `pending_connect` and
  `pending_disconnect` dicts and its `basic_enter_room` / `basic_leave_room` /
  `basic_disconnect` / `get_participants` / `is_connected` / `is_pre_connected` methods
  (FastManager keeps its own index beside them); `packet.Packet(EVENT, data, namespace)`.
* aiohttp: `WebSocketResponse(compress=, max_msg_size=)` and its private `_writer`, the
  writer's `transport`, `compress` and `protocol` attributes, and the protocol's
  `writing_paused` property (the direct write).
* asyncio.Queue's `_queue`, `_getters`, `_putters` and `_finished._waiters` (LeanQueue).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from importlib import metadata
from types import SimpleNamespace
from typing import Any

import engineio
import socketio
import structlog
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.http_websocket import WebSocketWriter
from engineio.async_drivers import aiohttp as eio_aiohttp
from engineio.async_socket import AsyncSocket
from socketio import packet as sio_packet

log = structlog.get_logger(__name__)

# The distributions named in the warning, so a report says which versions broke the check.
LIBRARIES = ("python-socketio", "python-engineio", "aiohttp")


def _name(owner: Any) -> str:
    return str(getattr(owner, "__qualname__", None) or getattr(owner, "__name__", owner))


def callable_with(owner: Any, attr: str, *params: str) -> str | None:
    """None when `owner.attr` is callable and names every one of `params`, else the problem."""
    fn = getattr(owner, attr, None)
    label = f"{_name(owner)}.{attr}"

    if not callable(fn):
        return f"{label} is missing"
    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # a builtin without a signature: nothing to compare
        return None
    lacking = [p for p in params if p not in names]
    return f"{label} takes no {', '.join(lacking)}" if lacking else None


def _has_attrs(label: str, obj: Any, *attrs: str) -> str | None:
    lacking = [a for a in attrs if not hasattr(obj, a)]
    return f"{label} has no {', '.join(lacking)}" if lacking else None


def _probe(label: str, check: Callable[[], str | None]) -> str | None:
    """Run a check that builds library objects; any error is a problem, not a crash."""
    try:
        return check()
    except Exception as exc:
        return f"{label}: {type(exc).__name__}: {exc}"


def _engineio_problems() -> list[str | None]:
    websocket = getattr(eio_aiohttp, "WebSocket", None)
    driver = getattr(eio_aiohttp, "_async", None)

    def socket_attrs() -> str | None:
        sock = AsyncSocket(SimpleNamespace(create_queue=lambda: None), "probe")
        return _has_attrs(
            "AsyncSocket()", sock, "queue", "upgraded", "closing", "closed", "last_ping", "sid"
        )

    if not isinstance(websocket, type):
        return ["engineio.async_drivers.aiohttp.WebSocket is missing"]
    return [
        None
        if isinstance(driver, dict) and driver.get("websocket") is websocket
        else "engineio.async_drivers.aiohttp._async['websocket'] is not its WebSocket",
        callable_with(websocket, "__init__", "handler", "server"),
        *(callable_with(websocket, m) for m in ("close", "send", "wait")),
        callable_with(engineio.AsyncServer, "create_queue"),
        callable_with(engineio.AsyncServer, "start_background_task", "target"),
        callable_with(AsyncSocket, "_websocket_handler", "ws"),
        callable_with(AsyncSocket, "schedule_ping"),
        None
        if inspect.iscoroutinefunction(getattr(AsyncSocket, "_send_ping", None))
        else "AsyncSocket._send_ping is missing or not a coroutine function",
        _probe("AsyncSocket()", socket_attrs),
    ]


def _socketio_problems() -> list[str | None]:
    def manager_attrs() -> str | None:
        manager = socketio.AsyncManager()
        names = ("rooms", "callbacks", "pending_connect", "pending_disconnect")
        lacking = [n for n in names if not isinstance(getattr(manager, n, None), dict)]
        return f"AsyncManager() has no dict {', '.join(lacking)}" if lacking else None

    manager = socketio.AsyncManager
    return [
        _probe("AsyncManager()", manager_attrs),
        callable_with(manager, "basic_enter_room", "sid", "namespace", "room", "eio_sid"),
        callable_with(manager, "basic_leave_room", "sid", "namespace", "room"),
        callable_with(manager, "basic_disconnect", "sid", "namespace"),
        callable_with(manager, "get_participants", "namespace", "room"),
        callable_with(manager, "is_connected", "sid", "namespace"),
        callable_with(manager, "is_pre_connected", "sid", "namespace"),
        _has_attrs("socketio.packet", sio_packet, "EVENT"),
        callable_with(sio_packet.Packet, "__init__", "packet_type", "data", "namespace"),
    ]


def _aiohttp_problems() -> list[str | None]:
    def response_writer() -> str | None:
        return _has_attrs("WebSocketResponse()", web.WebSocketResponse(), "_writer")

    def writer_attrs() -> str | None:
        protocol, transport = object(), object()
        writer = WebSocketWriter(protocol, transport)  # type: ignore[arg-type]
        if writer.protocol is not protocol or writer.transport is not transport:
            return "WebSocketWriter does not keep its protocol and transport"
        return _has_attrs("WebSocketWriter()", writer, "compress")

    return [
        callable_with(web.WebSocketResponse, "__init__", "compress", "max_msg_size"),
        _probe("WebSocketResponse()", response_writer),
        _probe("WebSocketWriter()", writer_attrs),
        None
        if isinstance(getattr(BaseProtocol, "writing_paused", None), property)
        else "BaseProtocol.writing_paused is missing",
    ]


def _queue_problems() -> list[str | None]:
    def queue_attrs() -> str | None:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        finished = getattr(queue, "_finished", None)
        return _has_attrs("asyncio.Queue()", queue, "_queue", "_getters", "_putters", "_init") or (
            _has_attrs("asyncio.Queue()._finished", finished, "_waiters")
        )

    return [_probe("asyncio.Queue()", queue_attrs)]


def fast_path_problems() -> list[str]:
    """Every relied-on internal that is missing or shaped differently (empty: all good)."""
    found = [
        *_engineio_problems(),
        *_socketio_problems(),
        *_aiohttp_problems(),
        *_queue_problems(),
    ]
    return [p for p in found if p]


def library_versions() -> dict[str, str]:
    """The installed versions of LIBRARIES, for the warning."""
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def warn_disabled(problems: list[str]) -> None:
    """The one warning: which internals are off, with the versions that have them so."""
    log.warning(
        "fanout_disabled",
        missing=problems,
        versions=library_versions(),
        fallback="the libraries' own emit, queue and ping paths (slower, still correct)",
    )
