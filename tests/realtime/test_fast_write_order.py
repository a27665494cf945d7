"""The direct-write fan-out never overtakes a packet on its way through the library's
queue: a frame is written straight to a socket only when nothing is queued for it and its
writer task is waiting, not while the writer holds a packet it has taken but not written."""

from __future__ import annotations

import asyncio
import json

import aiohttp
from socketio import packet as sio_packet

from chat_server.api.keys import SIO
from tests.realtime.test_heartbeat import raw_socket


async def _events(ws: aiohttp.ClientWebSocketResponse, names: set[str], count: int) -> list[str]:
    seen: list[str] = []
    while len(seen) < count:
        frame = await ws.receive_str(timeout=5)
        if frame.startswith("42/chat,"):
            event = json.loads(frame[len("42/chat,") :])[0]
            if event in names:
                seen.append(event)
    return seen


async def test_a_direct_write_waits_for_a_packet_the_writer_has_taken(server, register, http):
    alice = await register(server)
    ws = await raw_socket(http, server.url, alice.access_token)
    sio = server.app[SIO]
    await asyncio.sleep(0.2)  # the connect-time events are written; the writer waits
    (eio_sid,) = list(sio.eio.sockets)
    sid = sio.manager.sid_from_eio_sid(eio_sid, "/chat")

    # "first" takes the library's path (as acks do): queued for the socket's writer task.
    first = sio.packet_class(sio_packet.EVENT, namespace="/chat", data=["first", {}])
    await sio._send_packet(eio_sid, first)
    # One loop turn: the writer has taken "first" off the queue but not written it yet...
    await asyncio.sleep(0)
    assert sio.eio.sockets[eio_sid].queue.empty()
    # ...when an emit to the socket comes: it must not be written ahead of "first".
    await sio.emit("second", {}, to=sid, namespace="/chat")

    assert await _events(ws, {"first", "second"}, 2) == ["first", "second"]
    await ws.close()
