"""Socket events that change a stored message (docs/contract.md §12): edit, delete, react,
pin. A mixin of the `/chat` namespace (realtime/namespace.py), kept apart to keep that
module small; each handler is as thin as the others there: one service call, whose answer
is the message's current state (also for a request that changed nothing).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chat_server.realtime.handlers import SocketState, event, principal

if TYPE_CHECKING:
    from chat_server.services.registry import Services


class MessageEvents:
    """`edit_message`, `delete_message`, `add_reaction`, `remove_reaction`, `pin_message`,
    `unpin_message`."""

    if TYPE_CHECKING:

        @property
        def services(self) -> Services: ...

    @event()
    async def on_edit_message(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Edit one's own message; the room gets `message_updated` (docs/contract.md §12)."""
        message = await self.services.edits.edit(
            principal(state).user_id, data["room_id"], data["message_id"], data["content"]
        )
        return {"message": message}

    @event()
    async def on_delete_message(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Delete a message (author, room owner/admin); answers the tombstone."""
        message = await self.services.edits.delete(
            principal(state).user_id, data["room_id"], data["message_id"]
        )
        return {"message": message}

    # docs/contract.md §12: each answers the message's current state (a no-op too).
    @event()
    async def on_add_reaction(self, sid: str, state: SocketState, d: dict[str, Any]) -> Any:
        r = self.services.reactions
        return {"message": await r.add(principal(state).user_id, *_ref(d), d["emoji"])}

    @event()
    async def on_remove_reaction(self, sid: str, state: SocketState, d: dict[str, Any]) -> Any:
        r = self.services.reactions
        return {"message": await r.remove(principal(state).user_id, *_ref(d), d["emoji"])}

    @event()
    async def on_pin_message(self, sid: str, state: SocketState, d: dict[str, Any]) -> Any:
        return {"message": await self.services.pins.pin(principal(state).user_id, *_ref(d))}

    @event()
    async def on_unpin_message(self, sid: str, state: SocketState, d: dict[str, Any]) -> Any:
        return {"message": await self.services.pins.unpin(principal(state).user_id, *_ref(d))}


def _ref(data: dict[str, Any]) -> tuple[Any, Any]:
    """(roomId, messageId) of a message event."""
    return data["room_id"], data["message_id"]
