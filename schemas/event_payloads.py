"""What the server sends over the socket: acks and server -> client event payloads.

Owns: the shapes of every ack and event of namespace `/chat` that are not plain REST
bodies (those are in schemas/responses.py and reused here: a message, a room, a change
page). schemas/socket_events.py pairs them with their events; `GET /api/asyncapi.json` is
generated from them and tests/event_contract.py holds every payload a test client
receives to them.
Must not: validate input (client payloads are in schemas/messages.py, rooms.py, ...).
"""

from __future__ import annotations

from marshmallow import fields, validate

from schemas import responses as r
from schemas.common import CamelSchema


class AckErrorSchema(CamelSchema):
    """Every client event's ack on failure."""

    ok = fields.Boolean(required=True, validate=validate.Equal(False))
    error = fields.Nested(r.ErrorDetailSchema, required=True)


class AuthenticatedSchema(CamelSchema):
    """`authenticated`, and the `authenticate` ack."""

    user_id = r.uuid_field()
    username = r.str_field()


class AuthErrorSchema(CamelSchema):
    message = r.str_field()
    code = r.str_field()


class RoomAckSchema(CamelSchema):
    """`join_room` ack."""

    room = fields.Nested(r.RoomSchema, required=True)


class RoomIdSchema(CamelSchema):
    """`leave_room`, `typing_start`, `typing_stop` acks."""

    room_id = r.uuid_field()


class ReadStateSchema(CamelSchema):
    room_id = r.uuid_field()
    user_id = fields.UUID(metadata={"description": "The other user, for a DM"})
    kind = fields.String(validate=validate.OneOf(r.ROOM_KINDS))
    last_seq = r.int_field()
    last_read_seq = r.int_field()
    unread = r.int_field()


class SyncRoomSchema(CamelSchema):
    messages = fields.List(fields.Nested(r.MessageSchema), required=True)
    has_more = fields.Boolean(required=True)
    last_seq = r.int_field()
    last_read_seq = r.int_field()
    unread = r.int_field()


class SyncAckSchema(CamelSchema):
    """`sync` ack: per room what came after the given seq; refused rooms under errors."""

    rooms = fields.Dict(keys=fields.UUID(), values=fields.Nested(SyncRoomSchema), required=True)
    changes = fields.Dict(
        keys=fields.UUID(),
        values=fields.Nested(r.ChangePageSchema),
        metadata={"description": "When asked for: what changed after each lastChangeSeq"},
    )
    errors = fields.Dict(
        keys=fields.UUID(), values=fields.Nested(r.ErrorDetailSchema), required=True
    )


class UnreadRoomSchema(ReadStateSchema):
    """One room of `unread.rooms`, keyed by its id."""

    room_id = fields.UUID(
        metadata={"description": "The key again; absent from the summary sent on connect"}
    )


class UnreadSchema(CamelSchema):
    """`unread`: the summary on connect (with total) or one room's change."""

    rooms = fields.Dict(keys=fields.UUID(), values=fields.Nested(UnreadRoomSchema), required=True)
    total = fields.Integer()


class UserJoinedSchema(CamelSchema):
    room_id = r.uuid_field()
    user = fields.Nested(r.UserRefSchema, required=True)


class UserLeftSchema(CamelSchema):
    room_id = r.uuid_field()
    user_id = r.uuid_field()


class UserTypingSchema(CamelSchema):
    room_id = r.uuid_field()
    user_id = r.uuid_field()
    username = r.str_field()


class UserStoppedTypingSchema(CamelSchema):
    room_id = r.uuid_field()
    user_id = r.uuid_field()


class PresenceSchema(CamelSchema):
    user_id = r.uuid_field()
    username = r.str_field()
    status = r.str_field(validate=validate.OneOf(["online", "offline"]))
    last_seen = fields.DateTime(required=True, allow_none=True)


class ReadReceiptSchema(CamelSchema):
    """`read_receipt` and `delivery_receipt`: how far a member has read and received."""

    room_id = r.uuid_field()
    user_id = r.uuid_field()
    last_read_seq = r.int_field()
    last_delivered_seq = r.int_field()


class DeliveredAckSchema(CamelSchema):
    """`delivered` ack."""

    room_id = r.uuid_field()
    last_seq = r.int_field()
    last_delivered_seq = r.int_field()


class SessionRevokedSchema(CamelSchema):
    reason = r.str_field()


class ServerShutdownSchema(CamelSchema):
    reconnect_after_ms = r.int_field(
        metadata={"description": "Wait this long (jitter) before reconnecting"}
    )


class MessageUpdatedSchema(CamelSchema):
    """`message_updated`: a message's whole current state after a change (in a direct room
    with the DM fields), and the room's change number of that change (gap-free per room)."""

    message = fields.Nested(r.ChangedMessageSchema, required=True)
    change_seq = r.int_field(metadata={"description": "The room's change counter of this change"})
