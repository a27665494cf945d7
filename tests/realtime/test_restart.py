"""Messages are in PostgreSQL, not in the process: they survive an app restart."""

from __future__ import annotations

import uuid

from tests.conftest import LOBBY_ID
from tests.realtime.conftest import call, history, send


async def test_messages_persist_across_an_app_restart(
    start_server, make_config, register, sio_connect, http
):
    config = make_config()
    # A short shutdown timeout drops live sockets at close(), like a stopped process.
    first = await start_server(config, shutdown_timeout=0.5)
    alice = await register(first)
    a = await sio_connect(first, alice.access_token, events=("disconnect",))
    client_msg_id = str(uuid.uuid4())
    sent = await send(a, "written before the restart", clientMsgId=client_msg_id)

    await first.close()
    await a.recorder.wait_for("disconnect")

    second = await start_server(config)
    page = await history(http, second, alice, after=sent["seq"] - 1)
    assert page["messages"] == [sent]
    # The same token still works (same secret) and the retry key still deduplicates.
    a2 = await sio_connect(second, alice.access_token)
    assert await send(a2, "written before the restart", clientMsgId=client_msg_id) == sent
    ack = await call(a2, "sync", {"rooms": {LOBBY_ID: sent["seq"] - 1}})
    assert ack["rooms"][LOBBY_ID]["messages"] == [sent]
    after = await send(a2, "written after the restart")
    assert after["seq"] == sent["seq"] + 1
