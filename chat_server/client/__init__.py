"""A small asyncio client for the chat server: for bots, tests and the load generator.

It is the client half of the delivery guarantees of docs/contract.md §7 and talks to the server
over the network only (REST with aiohttp, Socket.IO with python-socketio's AsyncClient):
sends wait in an outbox with a `clientMsgId` until acked (`outbox.py`, `sending.py`);
every message is delivered once, per room in seq order, gaps filled with `sync`
(`ordering.py`, `receiving.py`); the socket reconnects with backoff and syncs after every
connect (`connection.py`); tokens are refreshed before they expire (`rest.py`); the bot
helpers are in `helpers.py`; message changes (edit, delete, react, reply, pin) are in
`actions.py` and reach every client once, per room in changeSeq order, live or recovered
after a reconnect (`changes.py`, `receiving.py`); `ChatClient` (`chat.py`) is the facade
that wires them.

This package owns the client's public names (re-exported here). It must not import
anything from the server (`chat_server.*` outside this package, asyncpg, Pillow, ...):
only the standard library, aiohttp and python-socketio, with relative imports inside the
package, so that it also ships alone as the `chat-client` distribution (`clients/python`,
import name `chat_client`).

Typical use::

    client = await ChatClient.login("http://localhost:8080", "alice", "secret-password")
    await client.connect()
    await client.send(room_id, "hello")
    message = await client.next_message()
    await client.edit(room_id, message["id"], "hello, world")
    async for update in client.updates():   # each change once, in changeSeq order per room
        print(update.room_id, update.change_seq, update.message["content"])
    await client.close()
"""

from .actions import UpdateHandler
from .changes import MessageUpdate
from .chat import ChatClient, ClientStats, MessageHandler
from .connection import NAMESPACE
from .errors import AuthError, ChatClientError, ClientClosed
from .outbox import PendingMessage
from .rest import Tokens

__all__ = [
    "NAMESPACE",
    "AuthError",
    "ChatClient",
    "ChatClientError",
    "ClientClosed",
    "ClientStats",
    "MessageHandler",
    "MessageUpdate",
    "PendingMessage",
    "Tokens",
    "UpdateHandler",
]
