"""The one table of Socket.IO events of namespace `/chat` (docs/contract.md §6).

This module owns the event catalogue: every event's name, direction (client -> server or
server -> client), description, payload schema and, for client events, the schema of the
fields the ack carries next to `ok: true`. The namespace (`chat_server/realtime/namespace.py`)
validates client payloads with the schemas looked up here by event name, and the published
contract (`chat_server/api/asyncapi.py`: `GET /api/asyncapi.json`, and the HTML page built
from it) is generated from this table, so the two cannot disagree. It must not emit, import
aiohttp, Socket.IO or the services, or build documents: it only declares events and the
few payload shapes that belong to no REST response.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

from marshmallow import Schema, fields

from schemas import event_payloads as ev
from schemas import responses as r
from schemas.auth import AuthenticateSchema
from schemas.changes import DeleteMessageSchema, EditMessageSchema
from schemas.common import CamelSchema
from schemas.messages import SendDirectMessageSchema, SendMessageSchema, SyncSchema
from schemas.reactions import MessageRefSchema, ReactionEventSchema
from schemas.rooms import MarkReadSchema, RoomEventSchema, TypingSchema

NAMESPACE = "/chat"

# Who sends the event: a client (the server validates it and answers an ack) or the server.
Direction = Literal["client", "server"]


@dataclass(frozen=True)
class SocketEvent:
    """One documented event."""

    name: str
    direction: Direction
    description: str
    payload: type[Schema]
    # Client events only: the fields of a successful ack next to `ok: true` (None: just ok).
    ack: type[Schema] | None = None


class _MessageAck(CamelSchema):
    message = fields.Nested(r.MessageSchema, required=True)


class _DirectMessageAck(CamelSchema):
    message = fields.Nested(r.DirectMessageSchema, required=True)


class ErrorEventSchema(CamelSchema):
    """`error`: a failure the client could not be told through an ack."""

    code = fields.String(required=True)
    message = fields.String(required=True)


def _client(
    name: str, description: str, payload: type[Schema], ack: type[Schema] | None
) -> SocketEvent:
    return SocketEvent(name, "client", description, payload, ack)


def _server(name: str, description: str, payload: type[Schema]) -> SocketEvent:
    return SocketEvent(name, "server", description, payload)


EVENTS: tuple[SocketEvent, ...] = (
    # -- client -> server (each answered by an ack) ------------------------------------
    _client(
        "authenticate",
        "Authenticate a socket that connected without a token (within "
        "10 s), or extend a live session with a fresh access token. Also emits "
        "`authenticated` or `auth_error`.",
        AuthenticateSchema,
        ev.AuthenticatedSchema,
    ),
    _client(
        "send_message",
        "Store a message in a room the caller belongs to; the room "
        "gets `new_message`. A retry with the same clientMsgId returns the original. With "
        "`threadId`, a reply: the root's new reply count follows as `message_updated`.",
        SendMessageSchema,
        _MessageAck,
    ),
    _client(
        "send_dm",
        "Send a direct message; both people's sockets get `new_dm`.",
        SendDirectMessageSchema,
        _DirectMessageAck,
    ),
    _client(
        "typing_start",
        "Start (or renew) typing in a room or DM; the others get "
        "`user_typing`. Expires by itself after a few seconds. Refused (`forbidden`) in a "
        "DM whose other member blocked the sender.",
        TypingSchema,
        ev.RoomIdSchema,
    ),
    _client(
        "typing_stop",
        "Stop typing; the others get `user_stopped_typing`.",
        TypingSchema,
        ev.RoomIdSchema,
    ),
    _client(
        "join_room",
        "Join a public room or a private room one is invited to; the "
        "room gets `user_joined`, all the caller's sockets follow. Rate limited per user.",
        RoomEventSchema,
        ev.RoomAckSchema,
    ),
    _client(
        "leave_room",
        "Leave a room; the room gets `user_left`. Rate limited per user.",
        RoomEventSchema,
        ev.RoomIdSchema,
    ),
    _client(
        "mark_read",
        "Move the read pointer of a room (or the DM with userId) up to "
        "seq; if it moved, the caller's sockets get `unread` (and a DM's or small room's "
        "other members `read_receipt`).",
        MarkReadSchema,
        ev.ReadStateSchema,
    ),
    _client(
        "delivered",
        "The client received a room (or the DM with userId) up to seq; if that moved the "
        "pointer, the other members of a DM or small room get `delivery_receipt`.",
        MarkReadSchema,
        ev.DeliveredAckSchema,
    ),
    _client(
        "sync",
        "After a reconnect: the messages after each room's last seen seq "
        "(bounded, with hasMore) and unread counts; with `changes` {roomId: "
        "lastChangeSeq}, also the messages changed since (docs/contract.md §12), in "
        "changeSeq order with a `changeSeq` cursor and `hasMore`. Rate limited per user.",
        SyncSchema,
        ev.SyncAckSchema,
    ),
    _client(
        "edit_message",
        "Edit one's own message (same rules as sending; no file); the room gets "
        "`message_updated`. The same text again changes nothing.",
        EditMessageSchema,
        r.ChangedMessageEnvelopeSchema,
    ),
    _client(
        "delete_message",
        "Delete a message (its author, or a room owner or admin): it becomes a tombstone "
        "and the room gets `message_updated`. Deleting again answers the tombstone.",
        DeleteMessageSchema,
        r.ChangedMessageEnvelopeSchema,
    ),
    # Messages that change (docs/contract.md §12): each answers the message's current state.
    _client(
        "add_reaction",
        "React to a message with one emoji (idempotent); the room gets `message_updated` "
        "when it changed. Refused like send_message for non-members and blocked senders; "
        "`conflict` for a deleted message or a 51st different emoji.",
        ReactionEventSchema,
        r.ChangedMessageEnvelopeSchema,
    ),
    _client(
        "remove_reaction",
        "Take one's reaction back (idempotent); the room gets `message_updated` when it changed.",
        ReactionEventSchema,
        r.ChangedMessageEnvelopeSchema,
    ),
    _client(
        "pin_message",
        "Pin a message (members; idempotent; an addition to docs/contract.md §12, which "
        "has pins over REST only); the room gets `message_updated` when it changed. "
        "`conflict` for a deleted message or a room with 100 pins.",
        MessageRefSchema,
        r.ChangedMessageEnvelopeSchema,
    ),
    _client(
        "unpin_message",
        "Unpin a message (members; idempotent); the room gets `message_updated` when it changed.",
        MessageRefSchema,
        r.ChangedMessageEnvelopeSchema,
    ),
    # -- server -> client ----------------------------------------------------------------
    _server("authenticated", "The socket is authenticated.", ev.AuthenticatedSchema),
    _server(
        "auth_error",
        "A token was refused, or the socket did not authenticate in "
        "time (then it is disconnected).",
        ev.AuthErrorSchema,
    ),
    _server(
        "new_message", "A message was stored in one of the caller's rooms.", r.MessageEnvelopeSchema
    ),
    _server(
        "new_dm",
        "A direct message to or from the caller (also on connect for DMs received while offline).",
        r.DirectMessageEnvelopeSchema,
    ),
    _server(
        "message_updated",
        "A message of one of the caller's rooms changed (edited, deleted, a reaction, a "
        "pin, a thread's reply count): the whole current message (clients replace their "
        "copy by id; in a direct room with the DM fields) and the room's change number of "
        "this change (gap-free per room: a jump means a missed change).",
        ev.MessageUpdatedSchema,
    ),
    _server("user_joined", "Someone joined one of the caller's rooms.", ev.UserJoinedSchema),
    _server("user_left", "Someone left one of the caller's rooms.", ev.UserLeftSchema),
    _server("user_typing", "Someone is typing in one of the caller's rooms.", ev.UserTypingSchema),
    _server("user_stopped_typing", "Someone stopped typing.", ev.UserStoppedTypingSchema),
    _server(
        "presence",
        "A member of one of the caller's (not too large) rooms came "
        "online or went offline; coalesced to one per user per second.",
        ev.PresenceSchema,
    ),
    _server(
        "unread",
        "Unread state: every room on connect (with total), one room when "
        "its pointer moves or a DM arrives.",
        ev.UnreadSchema,
    ),
    _server(
        "read_receipt", "A member of a small room or DM read up to a seq.", ev.ReadReceiptSchema
    ),
    _server(
        "delivery_receipt",
        "A member of a small room or DM confirmed receiving up to a seq.",
        ev.ReadReceiptSchema,
    ),
    _server("room_invite", "The caller was invited into a private room.", r.InviteCreatedSchema),
    _server("error", "A problem not tied to one client event.", ErrorEventSchema),
    _server(
        "session_revoked",
        "The session was logged out (or its refresh token reused): "
        "the socket is disconnected right after.",
        ev.SessionRevokedSchema,
    ),
    _server(
        "server_shutdown",
        "This instance is shutting down: reconnect after the given "
        "delay (through the load balancer) and `sync`.",
        ev.ServerShutdownSchema,
    ),
)

CLIENT_EVENTS: tuple[SocketEvent, ...] = tuple(e for e in EVENTS if e.direction == "client")
SERVER_EVENTS: tuple[SocketEvent, ...] = tuple(e for e in EVENTS if e.direction == "server")
_CLIENT_BY_NAME = {e.name: e for e in CLIENT_EVENTS}


@functools.cache
def client_payload_schema(name: str) -> Schema:
    """The schema (one shared instance) a client event's payload is validated with.

    A KeyError for an event that is not in the table: a handler cannot exist undocumented.
    """
    return _CLIENT_BY_NAME[name].payload()
