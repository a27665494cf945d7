"""The outbox: sends (room messages and DMs) waiting for the server's ack, and when each may
go (again) on the wire.

Owns: one `PendingMessage` per `clientMsgId` (a repeated id returns the pending one, so a
caller's retry never makes a second message), which item goes out next (oldest first, at
most `max_in_flight` unacked), the ack timeout, the retry policy after refusals
(`unavailable`/`internal_error`/token codes: exponential backoff with jitter;
`rate_limited`: the server's `retryAfter`; anything else fails the send for good) and
resolving each item's future. Plain code: time comes from the injected `clock`, jitter from
the injected `rand`, so it is unit-tested without a server or sleeping. Must not: do I/O,
sleep, emit, or know about sockets, reconnects or delivery order.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import RETRYABLE_CODES, TOKEN_CODES, ChatClientError

# An event without an ack after this long is considered lost and re-sent (same
# clientMsgId, so harmless).
ACK_TIMEOUT_S = 10.0
# Re-sending after a retryable error: backoff from the initial delay, doubling, capped.
SEND_RETRY_DELAY_INITIAL_S = 0.5
SEND_RETRY_DELAY_MAX_S = 15.0
# Retry delays are stretched by up to this fraction at random, so that many clients
# refused together (an overloaded instance) do not retry in the same instant.
SEND_RETRY_JITTER = 0.5
# Wait after `rate_limited` when the server gave no `retryAfter`.
RATE_LIMITED_DEFAULT_S = 1.0
# At most this many sends are on the wire without an ack; the rest wait in the outbox.
MAX_IN_FLIGHT = 64


@dataclass(slots=True)
class PendingMessage:
    """A send waiting in the outbox for its ack: to a room (`room_id`) or a DM
    (`recipient_id`)."""

    client_msg_id: str
    room_id: str | None
    content: str
    message_type: str
    future: asyncio.Future[dict[str, Any]]
    recipient_id: str | None = None
    file_id: str | None = None
    # A thread reply: the root message's id (room messages only).
    thread_id: str | None = None
    attempts: int = 0
    failures: int = 0
    in_flight: bool = False
    # clock() times: when an in-flight send counts as lost, and when a send that failed
    # may go out again.
    ack_deadline: float = 0.0
    not_before: float = 0.0

    @property
    def event(self) -> str:
        """The client event that carries it."""
        return "send_dm" if self.recipient_id is not None else "send_message"

    def payload(self) -> dict[str, Any]:
        target = (
            {"recipientId": self.recipient_id}
            if self.recipient_id is not None
            else {"roomId": self.room_id}
        )
        body: dict[str, Any] = {
            **target,
            "content": self.content,
            "messageType": self.message_type,
            "clientMsgId": self.client_msg_id,
        }
        if self.file_id is not None:
            body["fileId"] = self.file_id
        if self.thread_id is not None:
            body["threadId"] = self.thread_id
        return body


class Outbox:
    """Pending sends in the order they were made, with their retry state."""

    def __init__(
        self,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        max_in_flight: int = MAX_IN_FLIGHT,
        clock: Callable[[], float] = time.monotonic,
        rand: Callable[[], float] = random.random,
    ):
        self._items: dict[str, PendingMessage] = {}
        self._ack_timeout = ack_timeout_s
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._rand = rand
        self.resends = 0
        self.timeouts = 0

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, client_msg_id: object) -> bool:
        return client_msg_id in self._items

    @property
    def ids(self) -> list[str]:
        """clientMsgIds still waiting for an ack, oldest first."""
        return list(self._items)

    def add(self, item: PendingMessage) -> PendingMessage:
        """Queue `item`; if its clientMsgId is already pending, that one is returned."""
        existing = self._items.get(item.client_msg_id)
        if existing is not None:
            return existing
        self._items[item.client_msg_id] = item
        return item

    def next_to_send(self) -> tuple[PendingMessage | None, float | None]:
        """The oldest item that may go out now, else (None, seconds until one may; None if
        nothing is waiting). An in-flight item whose ack is overdue counts as lost."""
        now = self._clock()
        in_flight = 0
        soonest: float | None = None
        candidate: PendingMessage | None = None
        for item in self._items.values():
            if item.in_flight and now >= item.ack_deadline:
                item.in_flight = False
                self.timeouts += 1
            if item.in_flight:
                in_flight += 1
                due = item.ack_deadline - now
            elif now >= item.not_before:
                if candidate is None:
                    candidate = item
                continue
            else:
                due = item.not_before - now
            soonest = due if soonest is None else min(soonest, due)
        if candidate is not None and in_flight < self._max_in_flight:
            return candidate, None
        return None, soonest

    def sending(self, item: PendingMessage) -> int:
        """`item` goes on the wire now; returns the attempt number its ack must match."""
        item.in_flight = True
        item.attempts += 1
        if item.attempts > 1:
            self.resends += 1
        item.ack_deadline = self._clock() + self._ack_timeout
        return item.attempts

    def emit_failed(self, item: PendingMessage) -> None:
        """The socket refused the emit: the item goes out again after the reconnect."""
        item.in_flight = False

    def connection_lost(self) -> None:
        """No ack can come any more on the old connection: everything goes out again."""
        for item in self._items.values():
            item.in_flight = False

    def on_ack(self, item: PendingMessage, attempt: int, response: Any) -> dict[str, Any] | None:
        """Apply the server's ack of `attempt`; returns the stored message when it was
        accepted (the caller delivers it), else None (retry scheduled, or failed for good)."""
        if item.future.done():
            return None
        if (
            isinstance(response, dict)
            and response.get("ok") is True
            and isinstance(response.get("message"), dict)
        ):
            message: dict[str, Any] = response["message"]
            self._items.pop(item.client_msg_id, None)
            item.future.set_result(message)
            return message
        if attempt != item.attempts:
            return None  # a late answer to an attempt we already re-sent
        error = ChatClientError.from_ack(response)
        item.in_flight = False
        raw = response.get("error") if isinstance(response, dict) else None
        if error.code in RETRYABLE_CODES or error.code in TOKEN_CODES:
            item.failures += 1
            delay = min(
                SEND_RETRY_DELAY_MAX_S, SEND_RETRY_DELAY_INITIAL_S * 2 ** (item.failures - 1)
            )
            item.not_before = self._clock() + delay * (1 + SEND_RETRY_JITTER * self._rand())
        elif error.code == "rate_limited":
            retry_after = raw.get("retryAfter") if isinstance(raw, dict) else None
            wait = float(retry_after) if isinstance(retry_after, int | float) else None
            item.not_before = self._clock() + (wait if wait is not None else RATE_LIMITED_DEFAULT_S)
        else:
            self._items.pop(item.client_msg_id, None)
            item.future.set_exception(error)
        return None

    def fail_all(self, error: BaseException) -> None:
        """Give up on everything pending (client closed, session over)."""
        for item in self._items.values():
            if not item.future.done():
                item.future.set_exception(error)
        self._items.clear()
