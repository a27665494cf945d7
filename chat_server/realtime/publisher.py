"""The realtime implementation of the domain's `Publisher`: events become emits."""

from __future__ import annotations

import socketio
import structlog

from chat_server.events import Event
from chat_server.realtime import NAMESPACE
from chat_server.realtime.rooms import session_room, sio_room

log = structlog.get_logger(__name__)


class SocketPublisher:
    """Emits through the Socket.IO manager, so every instance's sockets receive it."""

    def __init__(self, sio: socketio.AsyncServer):
        self._sio = sio

    async def publish(self, event: Event) -> None:
        await self._sio.emit(event.name, event.payload, room=sio_room(event.target), namespace=NAMESPACE)

    async def revoke_session(self, session_id: str) -> None:
        """Tell the session's sockets they are logged out, then disconnect them."""
        room = session_room(session_id)
        await self._sio.emit("session_revoked", {"reason": "logged_out"}, room=room, namespace=NAMESPACE)
        sids = [sid for sid, _ in self._sio.manager.get_participants(NAMESPACE, room)]
        for sid in sids:
            await self._sio.disconnect(sid, namespace=NAMESPACE)
        if sids:
            log.info("session_sockets_disconnected", session_id=session_id, count=len(sids))
