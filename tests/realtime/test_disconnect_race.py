"""An event that arrives together with its socket's disconnect.

A socket's packets are handled in order, but each event runs as its own task: when a
long-polling POST (or a burst of WebSocket frames) carries an event and then the
namespace disconnect, the event's handler starts after the socket is already gone. Its
ack must then say "retry" (`unavailable`), not "unauthenticated": a client told it is
unauthenticated drops its session (and seen in tests/cluster: a message a draining
instance answered that way was lost by a client that would have retried it).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

# Engine.IO v4 separates the packets of one long-polling payload with this.
RECORD_SEPARATOR = "\x1e"


async def _poll_until(
    http: aiohttp.ClientSession, url: str, prefix: str, tries: int = 10
) -> list[str]:
    """Long-poll until a packet starting with `prefix` arrives; every packet seen."""
    seen: list[str] = []
    for _ in range(tries):
        async with http.get(url) as resp:
            assert resp.status == 200
            seen += (await resp.text()).split(RECORD_SEPARATOR)
        if any(p.startswith(prefix) for p in seen):
            return seen
    raise AssertionError(f"no {prefix!r} packet in {seen}")


async def _post(http: aiohttp.ClientSession, url: str, *packets: str) -> None:
    async with http.post(url, data=RECORD_SEPARATOR.join(packets)) as resp:
        assert resp.status == 200, await resp.text()


async def test_event_racing_its_own_disconnect_is_told_to_retry(server, http, register) -> None:
    alice = await register(server)
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    async with http.get(base) as resp:
        body = await resp.text()
    handshake: dict[str, Any] = json.loads(body[1:])
    url = f"{base}&sid={handshake['sid']}"

    await _post(http, url, "40/chat," + json.dumps({"token": alice.access_token}))
    await _poll_until(http, url, "40/chat,")

    message = {"roomId": str(uuid.uuid4()), "content": "sent while leaving"}
    await _post(
        http,
        url,
        "42/chat,1" + json.dumps(["send_message", message]),
        "41/chat,",  # the namespace disconnect, in the same payload
    )
    packets = await _poll_until(http, url, "43/chat,1")
    ack = json.loads(next(p for p in packets if p.startswith("43/chat,1"))[len("43/chat,1") :])
    assert ack[0]["ok"] is False
    assert ack[0]["error"]["code"] == "unavailable", ack
