"""The one seam through which domain services announce changes.

Services build an `Event` (a public Socket.IO event name, its payload and who should get
it) and hand it to the `Publisher`. Only the realtime layer implements `Publisher` by
emitting; services never see a socket.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

TargetKind = Literal["room", "user", "session"]


@dataclass(frozen=True, slots=True)
class Target:
    """Who receives an event: everyone in a chat room, all sockets of a user, or of one login."""

    kind: TargetKind
    id: str

    @classmethod
    def room(cls, room_id: object) -> Target:
        return cls("room", str(room_id))

    @classmethod
    def user(cls, user_id: object) -> Target:
        return cls("user", str(user_id))

    @classmethod
    def session(cls, session_id: object) -> Target:
        return cls("session", str(session_id))


@dataclass(frozen=True, slots=True)
class Event:
    """A public server -> client event (DESIGN.md §6) addressed to one target."""

    name: str
    payload: dict[str, Any]
    target: Target


class Publisher(Protocol):
    """Delivers events to connected clients on every instance."""

    async def publish(self, event: Event) -> None: ...

    async def revoke_session(self, session_id: str) -> None:
        """Tell and disconnect every socket of a login session (logout)."""
        ...


class NullPublisher:
    """Publishes nothing: for services used without a realtime layer (CLI, unit tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.revoked: list[str] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    async def revoke_session(self, session_id: str) -> None:
        self.revoked.append(session_id)
