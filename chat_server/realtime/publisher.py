"""The realtime implementation of the domain's `Publisher`: events become emits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import socketio
import structlog

from chat_server.events import Event
from chat_server.realtime import NAMESPACE
from chat_server.realtime.rooms import session_room, sio_room, user_room

if TYPE_CHECKING:
    from chat_server.realtime.namespace import ChatNamespace

log = structlog.get_logger(__name__)


class SocketPublisher:
    """Emits through the Socket.IO manager, so every instance's sockets receive it."""

    def __init__(self, sio: socketio.AsyncServer, namespace: ChatNamespace):
        self._sio = sio
        self._ns = namespace

    async def publish(self, event: Event) -> None:
        target = event.target
        to: str | list[str] = list(target.ids) if target.kind == "rooms" else sio_room(target)
        skip = self._local_sids(user_room(event.exclude_user)) if event.exclude_user else None
        await self._sio.emit(event.name, event.payload, to=to, skip_sid=skip, namespace=NAMESPACE)

    async def revoke_session(self, session_id: str) -> None:
        """Tell the session's sockets they are logged out, then disconnect them."""
        room = session_room(session_id)
        await self._sio.emit(
            "session_revoked", {"reason": "logged_out"}, room=room, namespace=NAMESPACE
        )
        sids = self._local_sids(room)
        for sid in sids:
            await self._sio.disconnect(sid, namespace=NAMESPACE)
        if sids:
            log.info("session_sockets_disconnected", session_id=session_id, count=len(sids))

    async def follow_membership(self, user_id: str, room_id: str, joined: bool) -> None:
        """The user's sockets enter or leave the room without reconnecting."""
        for sid in self._local_sids(user_room(user_id)):
            await self._ns.follow_membership(sid, room_id, joined)

    def _local_sids(self, room: str) -> list[str]:
        return [sid for sid, _ in self._sio.manager.get_participants(NAMESPACE, room)]
