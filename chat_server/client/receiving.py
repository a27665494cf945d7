"""Receiving: what arrives from the server becomes the application's message stream.

Owns: learning the user's rooms on every connect (GET /api/rooms, every page), `sync`
after a connect and to fill gaps (batched by the server's room limit, page by page, with
`changes` {roomId: lastChangeSeq} for message changes), feeding live `new_message`/`new_dm`
events, send acks and sync pages through `Ordering`, feeding live `message_updated`
events, the acks of the client's own changes and change pages through `ChangeTracker`
(change gaps filled from `GET /api/rooms/:id/changes?after=`), putting delivered messages
and updates on their queues, the unread counts (`unread` events and sync), and batched
delivery receipts (`delivered`). Must not: send chat messages or keep the outbox, manage
the socket's lifecycle (it uses `Connection.call`/`emit`), or decide ordering itself
(`Ordering` and `ChangeTracker` do).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable
from typing import Any

import aiohttp
import socketio

from .changes import ChangeTracker, MessageUpdate
from .connection import Connection
from .errors import ChatClientError, ConnectionLost
from .ordering import Ordering
from .rest import RestApi

log = logging.getLogger(__name__)

# Delivery receipts (`delivered` {roomId, seq}) are batched: one per room at most this often.
DELIVERY_RECEIPT_DELAY_S = 0.25
# The server broadcasts receipts only in DMs and rooms up to this size (READ_RECEIPT_MAX_
# MEMBERS); in bigger rooms (the lobby) every client confirming every message is waste.
RECEIPT_MAX_MEMBERS = 100
# The server's bound on how many rooms one `sync` may name (schemas.messages.SYNC_MAX_ROOMS).
SYNC_MAX_ROOMS = 500


class Receiver:
    """Ordered, duplicate-free delivery into `messages`, with unread counts and receipts."""

    def __init__(
        self,
        ordering: Ordering,
        connection: Connection,
        rest: RestApi,
        changes: ChangeTracker | None = None,
    ):
        self.ordering = ordering
        self.changes = changes if changes is not None else ChangeTracker()
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.updates: asyncio.Queue[MessageUpdate] = asyncio.Queue()
        self.unread: dict[str, int] = {}
        self.syncs = 0
        # Whether `sync` takes `changes` (docs/contract.md §12); a server from before it
        # refuses the field, and the client then syncs new messages only.
        self.sync_changes = True
        self._conn = connection
        self._rest = rest
        self._undelivered: dict[str, int] = {}  # room -> highest seq not yet receipted
        self._no_receipts: set[str] = set()  # rooms too big for delivery receipts
        self._tasks: set[asyncio.Task[Any]] = set()

    async def catch_up(self, first: bool) -> None:
        """After a handshake: track rooms we did not know, then `sync` every room (its new
        messages and its changes)."""
        await self.load_rooms(first)
        await self.sync(list(dict.fromkeys([*self.ordering.rooms, *self.changes.rooms])))

    async def load_rooms(self, first: bool) -> None:
        """Start tracking the member rooms we have not seen yet, from every page.

        On the first connect a room starts from its newest message (a new client does not
        replay history). A room found on a later connect (joined while we were away)
        starts from what the user has not read, so nothing sent meanwhile is skipped.
        """
        for room in await self._rest.all_rooms():
            if room.get("isMember"):
                self.track(room, from_unread=not first)

    def track(self, room: dict[str, Any], *, from_unread: bool = False) -> None:
        """Start tracking a room (as listed or returned by create/join); its changes are
        delivered from the summary's `changeSeq` on (messages delivered from then on
        carry their current state)."""
        room_id = str(room["id"])
        last = int(room.get("lastSeq", 0))
        unread = int(room.get("unreadCount", 0)) if from_unread else 0
        self.ordering.track(room_id, last - unread)
        self.changes.track(room_id, int(room.get("changeSeq") or 0))
        if int(room.get("memberCount", 0)) > RECEIPT_MAX_MEMBERS:
            self._no_receipts.add(room_id)

    def forget(self, room_id: str) -> None:
        self.ordering.forget(room_id)
        self.changes.forget(room_id)
        self.unread.pop(room_id, None)

    def ingest(self, message: dict[str, Any]) -> None:
        """A message from any source: deliver in order, or wait for (and fetch) a gap."""
        delivered, new_gap = self.ordering.ingest(message)
        self._deliver(delivered)
        if new_gap:
            self.spawn(self._fill_gap(str(message["roomId"])))

    def ingest_change(self, message: dict[str, Any], change_seq: Any = None) -> None:
        """A changed message from any source: deliver in changeSeq order, or wait for (and
        fetch) a change gap."""
        delivered, fill = self.changes.ingest(message, change_seq)
        self._deliver_updates(delivered)
        if fill:
            self.spawn(self._fill_change_gap(str(message["roomId"])))

    # -- server events -----------------------------------------------------------------

    def on_message_updated(self, data: Any = None) -> None:
        """`message_updated` {message, changeSeq}."""
        if isinstance(data, dict) and isinstance(data.get("message"), dict):
            self.ingest_change(data["message"], data.get("changeSeq"))

    def on_new_message(self, data: Any = None) -> None:
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(message, dict):
            self.ingest(message)

    def on_unread(self, data: Any = None) -> None:
        """`unread` {rooms: {roomId: {unread, lastSeq, lastReadSeq, ...}}, total?}: sent on
        connect (every room) and when a read pointer moves or a DM arrives (one room)."""
        rooms = data.get("rooms") if isinstance(data, dict) else None
        if not isinstance(rooms, dict):
            return
        for room_id, state in rooms.items():
            count = state.get("unread") if isinstance(state, dict) else None
            if isinstance(room_id, str) and isinstance(count, int):
                self.unread[room_id] = count

    # -- sync and gaps -----------------------------------------------------------------

    async def sync(self, room_ids: list[str]) -> None:
        """Ask the server for everything after our last seq and last changeSeq in each
        room, page by page."""
        todo = [r for r in room_ids if r in self.ordering.rooms or r in self.changes.rooms]
        while todo:
            batch, todo = todo[:SYNC_MAX_ROOMS], todo[SYNC_MAX_ROOMS:]
            again = await self._sync_batch(batch)
            todo = again + todo

    async def _sync_batch(self, batch: list[str]) -> list[str]:
        """One `sync` call; returns the rooms that have more pages."""
        rooms, changes = self.ordering.rooms, self.changes.rooms
        request: dict[str, Any] = {"rooms": {r: rooms[r].last_seq for r in batch if r in rooms}}
        if self.sync_changes:
            request["changes"] = {r: changes[r].last_change_seq for r in batch if r in changes}
        ack = await self._conn.call("sync", request)
        if not (isinstance(ack, dict) and ack.get("ok") is True):
            error = ChatClientError.from_ack(ack, "sync_failed")
            if (
                self.sync_changes
                and error.code == "validation_error"
                and "changes" in (error.fields or {})
            ):
                log.warning("sync_without_changes reason=server_refused_changes")
                self.sync_changes = False
                return batch
            raise error
        self.syncs += 1
        for room_id in ack.get("errors", {}):
            # No longer a member (left, removed): stop tracking it.
            self.forget(room_id)
        more: list[str] = []
        for room_id, page in ack.get("rooms", {}).items():
            if room_id not in batch or not isinstance(page, dict):
                continue
            if isinstance(page.get("unread"), int):
                self.unread[room_id] = page["unread"]
            messages = page.get("messages") or []
            has_more = bool(page.get("hasMore"))
            self._deliver(
                self.ordering.apply_page(room_id, messages, page.get("lastSeq"), has_more)
            )
            if has_more and messages:
                more.append(room_id)
        for room_id, page in (ack.get("changes") or {}).items():
            if room_id not in batch or not isinstance(page, dict):
                continue
            messages = page.get("messages") or []
            has_more = bool(page.get("hasMore"))
            self._deliver_updates(
                self.changes.apply_page(room_id, messages, page.get("changeSeq"), has_more)
            )
            if has_more and messages and room_id not in more:
                more.append(room_id)
        return more

    async def _fill_change_gap(self, room_id: str) -> None:
        """Fetch the changes missing before the buffered ones once the grace is over, from
        the change feed over REST (it needs no live socket), page by page."""
        state = self.changes.rooms.get(room_id)
        if state is None or state.filling:
            return
        state.filling = True
        try:
            await asyncio.sleep(self.changes.grace_s)
            while self.changes.gap_open(room_id) and self.changes.rooms.get(room_id) is state:
                page = await self._rest.call(
                    "GET",
                    f"/api/rooms/{room_id}/changes",
                    params={"after": str(state.last_change_seq)},
                )
                before = state.last_change_seq
                messages = page.get("messages") or []
                self._deliver_updates(
                    self.changes.apply_page(
                        room_id, messages, page.get("changeSeq"), bool(page.get("hasMore"))
                    )
                )
                if state.last_change_seq == before:
                    log.warning(
                        "change_gap_not_filled room_id=%s change_seq=%d open_s=%s",
                        room_id,
                        before,
                        self.changes.gap_age(room_id),
                    )
                    return
        except (ChatClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
            # The sync after the next connect fills it, or the next early change retries.
            log.info("change_gap_fill_failed room_id=%s error=%r", room_id, exc)
        finally:
            state.filling = False

    async def _fill_gap(self, room_id: str) -> None:
        """Fetch what is missing before the buffered messages, once the grace is over."""
        state = self.ordering.rooms.get(room_id)
        if state is None or state.filling:
            return
        state.filling = True
        try:
            await asyncio.sleep(self.ordering.grace_s)
            while self.ordering.gap_open(room_id) and self.ordering.rooms.get(room_id) is state:
                if not self._conn.ready.is_set():
                    return  # the sync after the reconnect fills it
                before = state.last_seq
                await self.sync([room_id])
                if state.last_seq == before:
                    log.warning(
                        "gap_not_filled room_id=%s last_seq=%d open_s=%s",
                        room_id,
                        before,
                        self.ordering.gap_age(room_id),
                    )
                    return
        except (ChatClientError, ConnectionLost, socketio.exceptions.SocketIOError) as exc:
            log.info("gap_fill_failed room_id=%s error=%r", room_id, exc)
        finally:
            state.filling = False

    # -- delivery ----------------------------------------------------------------------

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.messages.put_nowait(message)
            room_id, seq = message["roomId"], message["seq"]
            if room_id in self._no_receipts:
                continue
            if not self._undelivered:
                self.spawn(self._send_delivery_receipts())
            self._undelivered[room_id] = max(seq, self._undelivered.get(room_id, 0))

    async def _send_delivery_receipts(self) -> None:
        """Tell the server what arrived (senders show "delivered"); best effort: a receipt
        lost with the connection is superseded by the next one."""
        await asyncio.sleep(DELIVERY_RECEIPT_DELAY_S)
        receipts, self._undelivered = self._undelivered, {}
        if not self._conn.socket_connected:
            return
        for room_id, seq in receipts.items():
            await self._conn.emit("delivered", {"roomId": room_id, "seq": seq})

    def _deliver_updates(self, updates: list[MessageUpdate]) -> None:
        for update in updates:
            self.updates.put_nowait(update)

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*tasks, return_exceptions=True)
