"""The realtime implementation of the domain's `Publisher`: events become emits.

Emits go through the Socket.IO manager, so in a cluster every instance's sockets receive
them. Actions on sockets themselves (disconnecting a logged-out session, moving a user's
sockets into a room) are control messages that every instance applies to its own sockets.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import socketio
import structlog

from chat_server import metrics
from chat_server.events import Event
from chat_server.realtime import NAMESPACE
from chat_server.realtime.manager import ClusterManager, exclude_room_marker
from chat_server.realtime.rooms import sio_room, user_room

if TYPE_CHECKING:
    from chat_server.realtime.namespace import ChatNamespace

log = structlog.get_logger(__name__)


class SocketPublisher:
    """Publishes domain events to sockets on every instance."""

    def __init__(self, sio: socketio.AsyncServer, namespace: ChatNamespace):
        self._sio = sio
        self._ns = namespace
        self._cluster = sio.manager if isinstance(sio.manager, ClusterManager) else None
        if self._cluster is not None:
            self._cluster.control_handler = self.apply_control

    async def publish(self, event: Event) -> None:
        target = event.target
        to: str | list[str] = list(target.ids) if target.kind == "rooms" else sio_room(target)
        skip: list[str] | None = None
        if event.exclude_user:
            room = user_room(event.exclude_user)
            # In a cluster each instance leaves out that user's sockets of its own.
            skip = [exclude_room_marker(room)] if self._cluster else self._local_sids(room)
        started = time.perf_counter()
        await self._sio.emit(event.name, event.payload, to=to, skip_sid=skip, namespace=NAMESPACE)
        metrics.FANOUT_LATENCY.labels(event=event.name).observe(time.perf_counter() - started)
        metrics.DELIVERED.labels(event=event.name).inc(self._local_count(to))

    async def revoke_session(self, session_id: str) -> None:
        """Tell the session's sockets they are logged out, then disconnect them everywhere."""
        await self._control({"op": "revoke_session", "sessionId": session_id})

    async def follow_membership(self, user_id: str, room_id: str, joined: bool) -> None:
        """The user's sockets on every instance enter or leave the room without reconnecting."""
        await self._control(
            {"op": "follow", "userId": user_id, "roomId": room_id, "joined": joined}
        )

    async def _control(self, data: dict[str, Any]) -> None:
        if self._cluster is not None:
            await self._cluster.publish_control(data)
        else:
            await self.apply_control(data)

    async def apply_control(self, data: dict[str, Any]) -> None:
        """Carry out a control action on this instance's own sockets."""
        op = data.get("op")
        if op == "revoke_session":
            sids = self._ns.session_sids(str(data["sessionId"]))
            for sid in sids:
                await self._sio.emit(
                    "session_revoked",
                    {"reason": "logged_out"},
                    to=sid,
                    namespace=NAMESPACE,
                    ignore_queue=True,
                )
                await self._sio.disconnect(sid, namespace=NAMESPACE, ignore_queue=True)
            if sids:
                log.info(
                    "session_sockets_disconnected", session_id=data["sessionId"], count=len(sids)
                )
        elif op == "follow":
            for sid in self._local_sids(user_room(str(data["userId"]))):
                await self._ns.follow_membership(sid, str(data["roomId"]), bool(data["joined"]))

    def _local_sids(self, room: str) -> list[str]:
        return [sid for sid, _ in self._sio.manager.get_participants(NAMESPACE, room)]

    def _local_count(self, to: str | list[str]) -> int:
        rooms = self._sio.manager.rooms.get(NAMESPACE, {})
        if isinstance(to, str):
            return len(rooms.get(to, ()))
        return len({sid for r in to for sid in rooms.get(r, ())})
