"""Shared pieces of the ChatClient tests (test_client.py, test_client_features.py): options
and bounded waiting helpers (the `new_client` fixture is in conftest.py)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from chat_server.client import ChatClient
from tests.realtime.conftest import CLIENT_FAST

FAST = CLIENT_FAST
# A server stopped with a short shutdown timeout drops its live sockets like a crashed
# instance; the default waits for them to time out.
CRASH = {"shutdown_timeout": 0.5}
# Upper bound for anything a test waits for on a loaded machine.
WAIT_S = 15


async def next_messages(client: ChatClient, count: int) -> list[dict]:
    async with asyncio.timeout(WAIT_S):
        return [await client.next_message() for _ in range(count)]


async def wait_until(predicate, what: str) -> None:
    async with asyncio.timeout(WAIT_S):
        while not predicate():
            await asyncio.sleep(0.02)
    assert predicate(), what


def same_port(make_config, server):
    """A config that serves on the port `server` used (a restarted instance)."""
    return make_config(port=urlsplit(server.url).port)
