"""Socket.IO room names for event targets."""

from __future__ import annotations

from chat_server.events import Target


def sio_room(target: Target) -> str:
    """Chat rooms use their id; users get a prefix."""
    if target.kind == "room":
        return target.id
    return f"{target.kind}:{target.id}"


def user_room(user_id: str) -> str:
    return f"user:{user_id}"
