"""Messages: sending, history pages, sync."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import CamelSchema, StrictInteger, no_control_chars, not_blank

# The seed's limit on one message.
MAX_CONTENT_CHARS = 5000
# A clientMsgId is an opaque client-chosen key (a UUID is 36 chars).
MAX_CLIENT_MSG_ID = 64
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
# One sync may name at most this many rooms: bounds the work one event can ask for.
SYNC_MAX_ROOMS = 500
SEQ_MAX = 2**62


def content_field() -> fields.String:
    return fields.String(
        required=True,
        validate=[validate.Length(min=1, max=MAX_CONTENT_CHARS), no_control_chars, not_blank],
    )


def message_type_field() -> fields.String:
    return fields.String(load_default="text", validate=validate.OneOf(["text"]))


def client_msg_id_field() -> fields.String:
    return fields.String(
        load_default=None,
        validate=[validate.Length(min=1, max=MAX_CLIENT_MSG_ID), no_control_chars],
    )


class SendMessageSchema(CamelSchema):
    room_id = fields.UUID(required=True)
    content = content_field()
    message_type = message_type_field()
    client_msg_id = client_msg_id_field()


class PostMessageSchema(SendMessageSchema):
    """The HTTP fallback: the room comes from the URL."""

    class Meta:
        exclude = ("room_id",)


class HistoryQuerySchema(CamelSchema):
    before = fields.Integer(validate=validate.Range(min=1, max=SEQ_MAX))
    after = fields.Integer(validate=validate.Range(min=0, max=SEQ_MAX))
    limit = fields.Integer(
        load_default=HISTORY_DEFAULT_LIMIT, validate=validate.Range(min=1, max=HISTORY_MAX_LIMIT)
    )

    @validates_schema
    def _one_direction(self, data: dict[str, Any], **_: Any) -> None:
        if "before" in data and "after" in data:
            raise ValidationError("Use either before or after, not both.", "_schema")


class SyncSchema(CamelSchema):
    rooms = fields.Dict(
        keys=fields.UUID(),
        values=StrictInteger(validate=validate.Range(min=0, max=SEQ_MAX)),
        required=True,
        validate=validate.Length(max=SYNC_MAX_ROOMS),
    )


class SendDirectMessageSchema(CamelSchema):
    """`send_dm`: like send_message, addressed to a user."""

    recipient_id = fields.UUID(required=True)
    content = content_field()
    message_type = message_type_field()
    client_msg_id = client_msg_id_field()


class PostDirectMessageSchema(SendDirectMessageSchema):
    """The HTTP fallback for DMs: the recipient comes from the URL."""

    class Meta:
        exclude = ("recipient_id",)
