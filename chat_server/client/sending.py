"""Sending: moves outbox items onto the live socket and routes their acks.

Owns: creating outbox items (a fresh `clientMsgId` unless the caller gives one), the send
loop (while connected: the next due item goes out with an ack callback, a few may be in
flight; otherwise wait until woken or until the next item is due) and handing accepted
messages to the receiver, so the sender's own stream has them once, in order. Must not:
decide retries or timeouts (`Outbox` does), reconnect (`Connection`), or deliver messages
itself (`Receiver`).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

from .connection import Connection
from .outbox import Outbox, PendingMessage
from .receiving import Receiver

# When an emit fails although we believed we were connected, wait this long before the
# next try (the disconnect is being processed meanwhile).
EMIT_FAILURE_PAUSE_S = 0.1


class Sender:
    """The send loop of one client."""

    def __init__(self, outbox: Outbox, connection: Connection, receiver: Receiver):
        self._outbox = outbox
        self._conn = connection
        self._receiver = receiver
        self._wake = asyncio.Event()

    def enqueue(
        self,
        room_id: str | None,
        recipient_id: str | None,
        content: str,
        client_msg_id: str | None,
        message_type: str,
        file_id: str | None,
        thread_id: str | None = None,
    ) -> PendingMessage:
        """Queue a room message (room_id; a thread reply with thread_id) or a DM
        (recipient_id) and wake the loop."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        # A caller that stopped waiting must not cause "exception never retrieved" noise.
        future.add_done_callback(_retrieve)
        item = self._outbox.add(
            PendingMessage(
                client_msg_id=client_msg_id or str(uuid.uuid4()),
                room_id=room_id,
                recipient_id=recipient_id,
                content=content,
                message_type=message_type,
                file_id=file_id,
                thread_id=thread_id,
                future=future,
            )
        )
        self._wake.set()
        return item

    async def run(self) -> None:
        """Emit outbox items in order while connected; a few may await acks at once."""
        while not self._conn.stop.is_set():
            await self._conn.ready.wait()
            self._wake.clear()
            item, wait_s = self._outbox.next_to_send()
            if item is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait_s)
                continue
            attempt = self._outbox.sending(item)

            def on_ack(*args: Any, item: PendingMessage = item, attempt: int = attempt) -> None:
                message = self._outbox.on_ack(item, attempt, args[0] if args else None)
                if message is not None:
                    self._receiver.ingest(message)
                self._wake.set()

            if not await self._conn.emit(item.event, item.payload(), on_ack):
                # Not connected after all (the disconnect is being processed): pause
                # rather than spin until `ready` is cleared.
                self._outbox.emit_failed(item)
                await self._conn.sleep_or_stop(EMIT_FAILURE_PAUSE_S)


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
