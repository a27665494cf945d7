"""A graceful shutdown moves a standard socket.io-client (JavaScript, default options) to
the next server without any help from the application: it is told `server_shutdown`, its
transport is closed (not a Socket.IO disconnect, which would stop it from reconnecting),
and it reconnects by itself."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from chat_server.app import drain
from tests.compat.test_node_client import NodeSession

SCRIPT = Path(__file__).with_name("js_drain_client.mjs")


async def test_js_client_follows_a_graceful_shutdown_to_the_next_server(
    start_server, register, node
):
    first = await start_server(shutdown_timeout=0.5)
    user = await register(first)
    port = first.url.rsplit(":", 1)[1]
    proc = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        env={**os.environ, "CHAT_URL": first.url, "CHAT_TOKEN": user.access_token},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=SCRIPT.parents[2],
    )
    js = NodeSession(proc)
    try:
        assert (await js.wait_for("connected"))["count"] == 1
        await drain(first.app)
        shutdown = await js.wait_for("server_shutdown")
        assert shutdown["reconnectAfterMs"] >= 0
        # The transport was closed: the client's own reconnection logic takes over (a
        # server-side Socket.IO disconnect would be "io server disconnect" and final).
        reason = (await js.wait_for("disconnect"))["reason"]
        assert reason in ("transport close", "transport error"), reason
        await first.close()
        await start_server(port=int(port))  # the "other instance", same address
        assert await js.finish() == 0, js.lines  # it exits 0 once connected a second time
        assert [line["count"] for line in js.all("connected")] == [1, 2], js.lines
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
