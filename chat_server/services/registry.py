"""The set of domain services one app instance uses, built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from chat_server.services.auth import AuthService
from chat_server.services.direct import DirectService
from chat_server.services.edits import EditService
from chat_server.services.files import FileService
from chat_server.services.messages import MessageService
from chat_server.services.pins import PinService
from chat_server.services.presence import PresenceService
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.reactions import ReactionService
from chat_server.services.reads import ReadService
from chat_server.services.rooms import RoomService
from chat_server.services.typing import TypingService
from chat_server.services.users import UserService


@dataclass(frozen=True)
class Services:
    auth: AuthService
    users: UserService
    rooms: RoomService
    messages: MessageService
    direct: DirectService
    edits: EditService
    files: FileService
    reads: ReadService
    presence: PresenceService
    typing: TypingService
    limiter: RateLimiter
    reactions: ReactionService
    pins: PinService
