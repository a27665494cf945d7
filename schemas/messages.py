"""Messages: sending, history pages, sync."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from marshmallow import ValidationError, fields, validate, validates_schema

from schemas.common import NONBLANK_TEXT_PATTERN, CamelSchema, StrictInteger, no_control_chars

# The seed's limit on one message.
MAX_CONTENT_CHARS = 5000
# A clientMsgId is an opaque client-chosen key (a UUID is 36 chars).
MAX_CLIENT_MSG_ID = 64
HISTORY_DEFAULT_LIMIT = 50
HISTORY_MAX_LIMIT = 100
# One sync may name at most this many rooms: bounds the work one event can ask for.
SYNC_MAX_ROOMS = 500
SEQ_MAX = 2**62


def content_field(*, required: bool = False) -> fields.String:
    """Required and non-blank for text; may be empty (a caption) when a file is attached.
    An edit (`required=True`) always names the new text; its blank check needs the
    message's type and is the edit service's."""
    rules: list[Callable[[Any], Any]] = [validate.Length(max=MAX_CONTENT_CHARS), no_control_chars]
    if required:
        return fields.String(required=True, validate=rules)
    return fields.String(load_default="", validate=rules)


def message_type_field() -> fields.String:
    return fields.String(load_default="text", validate=validate.OneOf(["text", "image", "file"]))


class _MessageBody(CamelSchema):
    """What send_message, send_dm and their HTTP fallbacks share."""

    content = content_field()
    message_type = message_type_field()
    client_msg_id = fields.String(
        load_default=None,
        validate=[validate.Length(min=1, max=MAX_CLIENT_MSG_ID), no_control_chars],
    )
    file_id = fields.UUID(load_default=None)

    # For the OpenAPI document: what `_content_or_file` checks, as two shapes.
    JSON_SCHEMA_RULES: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "description": "A text message: content that is not blank, no file",
                "properties": {
                    "messageType": {"type": "string", "enum": ["text"]},
                    "content": {"type": "string", "pattern": NONBLANK_TEXT_PATTERN},
                    "fileId": {"type": "string", "nullable": True, "enum": [None]},
                },
                "required": ["content"],
            },
            {
                "description": "A file or image, with an optional caption",
                "properties": {
                    "messageType": {"type": "string", "enum": ["image", "file"]},
                    "fileId": {"type": "string", "format": "uuid"},
                },
                "required": ["messageType", "fileId"],
            },
        ]
    }

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def _content_or_file(self, data: dict[str, Any], original: Any, **_: Any) -> None:
        """Text needs content; a file needs type image or file (`fileId: null` is no file).
        Runs even when other fields failed, so that every problem is reported at once."""
        sent = original if isinstance(original, dict) else {}
        if data.get("file_id") is None and sent.get("fileId") is None:
            if data.get("message_type", "text") != "text":
                raise ValidationError("image and file messages need a fileId.", "fileId")
            if "content" not in sent:
                raise ValidationError("Missing data for required field.", "content")
            if "content" in data and not data["content"].strip():
                raise ValidationError("Must not be blank.", "content")
        elif data.get("file_id") is not None and data.get("message_type") == "text":
            raise ValidationError("A message with a file is of type image or file.", "messageType")


class SendMessageSchema(_MessageBody):
    room_id = fields.UUID(required=True)
    # docs/contract.md §12: a reply; `null` (or absent) is an ordinary message.
    thread_id = fields.UUID(
        load_default=None,
        metadata={"description": "Reply in this thread: a root message of the same room"},
    )


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

    # For the OpenAPI document, which describes this query as one object parameter so
    # that it can say so (parameters cannot refer to each other).
    JSON_SCHEMA_RULES: ClassVar[dict[str, Any]] = {"not": {"required": ["before", "after"]}}

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
    # {roomId: lastChangeSeq}: also recover the changes made after it (docs/contract.md §12).
    changes = fields.Dict(
        keys=fields.UUID(),
        values=StrictInteger(validate=validate.Range(min=0, max=SEQ_MAX)),
        validate=validate.Length(max=SYNC_MAX_ROOMS),
    )


class SendDirectMessageSchema(_MessageBody):
    """`send_dm`: like send_message, addressed to a user."""

    recipient_id = fields.UUID(required=True)


class PostDirectMessageSchema(SendDirectMessageSchema):
    """The HTTP fallback for DMs: the recipient comes from the URL."""

    class Meta:
        exclude = ("recipient_id",)
