"""Compatibility with the real JavaScript client: socket.io-client v4 from npm (installed by
`npm ci` from the repository's package-lock.json) drives tests/compat/js_client.mjs."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from schemas.text import UNPAIRED_SURROGATE_MESSAGE
from tests.conftest import LOBBY_ID
from tests.realtime.conftest import call, send

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "compat" / "js_client.mjs"
# How long one JS session may take end to end (node start-up included).
NODE_TIMEOUT_S = 30


class NodeSession:
    """A running js_client.mjs: its JSON lines, read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process):
        self.proc = proc
        self.lines: list[dict[str, Any]] = []

    async def wait_for(self, event: str) -> dict[str, Any]:
        """Read lines until one with this event name (it is returned)."""
        for line in self.lines:
            if line["event"] == event:
                return line
        assert self.proc.stdout is not None
        async with asyncio.timeout(NODE_TIMEOUT_S):
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    stderr = await self.proc.stderr.read() if self.proc.stderr else b""
                    raise AssertionError(
                        f"node exited before {event!r}: {self.lines} {stderr.decode()}"
                    )
                line = json.loads(raw)
                self.lines.append(line)
                if line["event"] == event:
                    return line

    async def finish(self) -> int:
        """Read the rest of the output and return the exit code."""
        assert self.proc.stdout is not None
        async with asyncio.timeout(NODE_TIMEOUT_S):
            rest, stderr = await self.proc.communicate()
        self.lines.extend(json.loads(raw) for raw in rest.splitlines() if raw.strip())
        assert self.proc.returncode is not None
        if self.proc.returncode != 0:
            print("node stderr:", stderr.decode())
        return self.proc.returncode

    def all(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["event"] == event]


@pytest.fixture
async def run_node(node: str):
    """Start js_client.mjs with the given environment; killed at teardown if still running."""
    procs: list[asyncio.subprocess.Process] = []

    async def start(**env: str) -> NodeSession:
        proc = await asyncio.create_subprocess_exec(
            node,
            str(SCRIPT),
            env={**os.environ, **{f"CHAT_{k.upper()}": v for k, v in env.items()}},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        procs.append(proc)
        return NodeSession(proc)

    yield start
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_js_and_python_clients_exchange_messages(
    start_server, register, sio_connect, run_node, transport
):
    # Short heartbeat: a long-poll left open by the exiting JS client ends quickly.
    server = await start_server(ping_interval_s=1.0, ping_timeout_s=2.0)
    alice = await register(server)  # Python
    bob = await register(server)  # JavaScript
    py = await sio_connect(server, alice.access_token, events=("new_message",))
    tag = uuid.uuid4().hex[:8]
    from_js, from_py = f"hello from js {tag}", f"hello from **python** {tag}"

    js = await run_node(
        url=server.url,
        token=bob.access_token,
        room=LOBBY_ID,
        send=from_js,
        expect=from_py,
        transports=transport,
    )
    connected = await js.wait_for("connected")
    assert connected["transport"] == transport
    py_message = await send(py, from_py)

    assert await js.finish() == 0, js.lines
    ack = js.all("ack")[0]["ack"]
    assert ack["ok"] is True, ack
    js_message = ack["message"]
    assert js_message["content"] == from_js
    assert js_message["userId"] == bob.id
    assert js_message["username"] == bob.username
    assert js_message["roomId"] == LOBBY_ID
    assert js_message["clientMsgId"] == f"js-{connected['id']}"
    # JS -> Python: the Python client got the JS message as stored.
    got = await py.recorder.wait_for("new_message", 2)
    assert {"message": js_message} in got
    # Python -> JS: the JS client got the Python message, rendered HTML included.
    received = [line["message"] for line in js.all("new_message")]
    assert py_message in received
    assert "<strong>python</strong>" in py_message["contentHtml"]
    unknown = js.all("unknown_event_ack")[0]["ack"]
    assert unknown == {"ok": False, "error": {"code": "unknown_event", "message": "Unknown event"}}


async def test_js_client_with_a_bad_token_gets_connect_error(server, run_node):
    js = await run_node(mode="bad_token", url=server.url, token="not-a-jwt")

    error = await js.wait_for("connect_error")

    assert await js.finish() == 0, js.lines
    assert error["message"] == "Invalid token"
    assert error["data"]["code"] == "invalid_token"
    assert js.all("connected") == []


async def test_js_client_authenticates_with_the_event(server, register, sio_connect, run_node):
    bob = await register(server)
    alice = await register(server)
    py = await sio_connect(server, alice.access_token, events=("new_message",))
    content = f"authenticated by event {uuid.uuid4().hex[:8]}"

    js = await run_node(
        mode="authenticate_event",
        url=server.url,
        token=bob.access_token,
        room=LOBBY_ID,
        send=content,
    )

    assert await js.finish() == 0, js.lines
    auth = js.all("authenticate_ack")[0]
    assert auth["ack"] == {"ok": True, "userId": bob.id, "username": bob.username}
    assert auth["authenticated"] == {"userId": bob.id, "username": bob.username}
    ack = js.all("ack")[0]["ack"]
    assert ack["ok"] is True and ack["message"]["userId"] == bob.id
    got = await py.recorder.wait_for("new_message")
    assert got[0]["message"] == ack["message"]
    # The Python side is unaffected by the JS session ending.
    assert (await call(py, "sync", {"rooms": {LOBBY_ID: ack["message"]["seq"]}}))["ok"] is True


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_js_client_gets_authenticated_error_events_and_surrogate_refusals(
    start_server, register, run_node, transport
):
    """Issue 14: `authenticated` after a handshake login, `error` for a failed event sent
    without an ack callback, and half an emoji refused with a validation error (ack or
    `error`): the real client never waits forever."""
    server = await start_server(ping_interval_s=1.0, ping_timeout_s=2.0)
    bob = await register(server)

    js = await run_node(
        mode="protocol", url=server.url, token=bob.access_token, room=LOBBY_ID, transports=transport
    )

    assert await js.finish() == 0, js.lines
    me = {"userId": bob.id, "username": bob.username}
    # Seen by a listener added before connecting and by one added in the connect handler.
    assert [line["data"] for line in js.all("authenticated")] == [me]
    assert [line["data"] for line in js.all("authenticated_late")] == [me]
    errors = [line["data"] for line in js.all("error_event")]
    assert len(errors) == 2, js.lines
    assert errors == [
        {"code": "validation_error", "message": "Invalid input"},
        {"code": "validation_error", "message": UNPAIRED_SURROGATE_MESSAGE},
    ]
    ack = js.all("surrogate_ack")[0]["ack"]
    assert ack["ok"] is False
    assert ack["error"]["code"] == "validation_error"
    assert ack["error"]["fields"] == {"content": [UNPAIRED_SURROGATE_MESSAGE]}
