"""When a library internal the fast paths rely on is missing (a new python-socketio,
python-engineio or aiohttp release renamed it), the server says so once at start and runs
on the libraries' own paths instead of failing at the first emit (issue 14, item 17)."""

from __future__ import annotations

from typing import Any

import pytest
import socketio
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from engineio.async_drivers import aiohttp as eio_aiohttp
from engineio.async_socket import AsyncSocket
from socketio.async_pubsub_manager import AsyncPubSubManager
from structlog.testing import capture_logs

from chat_server.api.keys import SIO
from chat_server.realtime import fanout, internals
from chat_server.realtime.manager import ClusterManager
from tests.conftest import LOBBY_ID


def test_the_installed_libraries_have_every_internal() -> None:
    assert internals.fast_path_problems() == []


@pytest.mark.parametrize(
    ("owner", "attr"),
    [
        (eio_aiohttp, "WebSocket"),
        (AsyncSocket, "_send_ping"),
        (AsyncSocket, "_websocket_handler"),
        (socketio.base_manager.BaseManager, "is_pre_connected"),
        (socketio.base_manager.BaseManager, "basic_enter_room"),
        (web.WebSocketResponse, "_writer"),
        (BaseProtocol, "writing_paused"),
    ],
)
def test_a_missing_internal_is_reported(monkeypatch: pytest.MonkeyPatch, owner: Any, attr: str):
    monkeypatch.delattr(owner, attr)
    problems = internals.fast_path_problems()
    assert len(problems) == 1, problems
    assert attr in problems[0]


def test_a_changed_signature_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    def basic_leave_room(self: Any, sid: Any, room: Any) -> None:  # no `namespace`
        raise AssertionError("not called")

    monkeypatch.setattr(socketio.base_manager.BaseManager, "basic_leave_room", basic_leave_room)
    assert internals.fast_path_problems() == ["AsyncManager.basic_leave_room takes no namespace"]


def test_cluster_manager_refuses_to_start_without_its_hooks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Control messages have no library path to fall back to: a clear error at start."""
    monkeypatch.delattr(AsyncPubSubManager, "_handle_emit")
    with pytest.raises(RuntimeError, match="_handle_emit"):
        ClusterManager("redis://127.0.0.1:6379/15", "test")


async def test_messages_flow_through_the_library_path_when_an_internal_is_missing(
    monkeypatch: pytest.MonkeyPatch, start_server, register, sio_connect
) -> None:
    # The engine keeps its own reference to the class (its driver table), so the library's
    # WebSocket path still works; only the check sees the attribute gone.
    monkeypatch.delattr(eio_aiohttp, "WebSocket")
    with capture_logs() as logs:
        server = await start_server()
    warnings = [e for e in logs if e["event"] == "fanout_disabled"]
    assert len(warnings) == 1, logs
    assert "WebSocket" in warnings[0]["missing"][0]
    assert warnings[0]["log_level"] == "warning"
    assert set(warnings[0]["versions"]) == set(internals.LIBRARIES)

    sio = server.app[SIO]
    assert sio.manager.fast_path is False
    assert not issubclass(sio.eio._async["websocket"], fanout.FastWebSocket)

    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=("new_message",))
    b = await sio_connect(server, bob.access_token, events=("new_message",))
    ack = await a.call(
        "send_message", {"roomId": LOBBY_ID, "content": "slow path"}, namespace="/chat"
    )
    assert ack["ok"] is True, ack
    got = await b.recorder.wait_for("new_message")
    assert got[0]["message"]["id"] == ack["message"]["id"]
    # The library's own queues carried it: nothing of the fast path was installed.
    queues = [sock.queue for sock in sio.eio.sockets.values()]
    assert queues
    assert not any(isinstance(q, fanout.LeanQueue) for q in queues)
    assert all(getattr(sock, "fast_ws", None) is None for sock in sio.eio.sockets.values())
