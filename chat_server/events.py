"""The one seam through which domain services announce changes.

Services build an `Event` (a public Socket.IO event name, its payload and who should get
it) and hand it to the `Publisher`. Only the realtime layer implements `Publisher` by
emitting; services never see a socket.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

TargetKind = Literal["room", "rooms", "user"]


@dataclass(frozen=True, slots=True)
class Target:
    """Who receives an event: everyone in a chat room (or in any of several rooms, each
    socket once), or all sockets of a user."""

    kind: TargetKind
    id: str
    ids: tuple[str, ...] = ()

    @classmethod
    def room(cls, room_id: object) -> Target:
        return cls("room", str(room_id))

    @classmethod
    def rooms(cls, room_ids: Iterable[object]) -> Target:
        return cls("rooms", "", tuple(str(r) for r in room_ids))

    @classmethod
    def user(cls, user_id: object) -> Target:
        return cls("user", str(user_id))


@dataclass(frozen=True, slots=True)
class Event:
    """A public server -> client event (docs/contract.md §6) addressed to one target."""

    name: str
    payload: dict[str, Any]
    target: Target
    # The acting user's own sockets are skipped (e.g. nobody sees their own typing).
    exclude_user: str | None = None


class Publisher(Protocol):
    """Delivers events to connected clients on every instance."""

    async def publish(self, event: Event) -> None: ...

    async def revoke_session(self, session_id: str) -> None:
        """Tell and disconnect every socket of a login session (logout)."""
        ...

    async def follow_membership(self, user_id: str, room_id: str, joined: bool) -> None:
        """Make every socket of the user enter (or leave) the room, on every instance."""
        ...


class NullPublisher:
    """Publishes nothing: for services used without a realtime layer (CLI, unit tests)."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.revoked: list[str] = []
        self.memberships: list[tuple[str, str, bool]] = []

    async def publish(self, event: Event) -> None:
        self.events.append(event)

    async def revoke_session(self, session_id: str) -> None:
        self.revoked.append(session_id)

    async def follow_membership(self, user_id: str, room_id: str, joined: bool) -> None:
        self.memberships.append((user_id, room_id, joined))
