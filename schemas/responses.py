"""What the server sends: REST response bodies (socket acks and event payloads that are not
REST bodies are in schemas/event_payloads.py).

These schemas are never used to validate input. They describe the shapes built by
`chat_server.services.wire` (and the services) so that `GET /api/openapi.json` and the
socket event reference (`GET /api/asyncapi.json`) are generated from one place, and so that the
contract tests (tests/security/test_schemathesis.py) can hold every response to them.
Unknown keys are refused (`additionalProperties: false` in the spec): a field added to a
response without being documented here fails the contract test.
"""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import CamelSchema

ROOM_KINDS = ("public", "private", "direct")
ROLES = ("owner", "admin", "member")
MESSAGE_TYPES = ("text", "image", "file")
ERROR_CODES = (
    "validation_error",
    "unauthenticated",
    "invalid_token",
    "token_expired",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "too_large",
    "unsupported_media_type",
    "rate_limited",
    "too_many_connections",
    "unavailable",
    "internal_error",
    "unknown_event",
    "http_error",
)


def uuid_field(**kw: object) -> fields.UUID:
    return fields.UUID(required=True, **kw)  # type: ignore[arg-type]


def str_field(**kw: object) -> fields.String:
    return fields.String(required=True, **kw)  # type: ignore[arg-type]


def int_field(**kw: object) -> fields.Integer:
    return fields.Integer(required=True, **kw)  # type: ignore[arg-type]


def time_field(**kw: object) -> fields.DateTime:
    return fields.DateTime(required=True, **kw)  # type: ignore[arg-type]


# -- errors ------------------------------------------------------------------------------


class ErrorDetailSchema(CamelSchema):
    code = str_field(
        metadata={"description": "Stable machine-readable code: " + ", ".join(ERROR_CODES)}
    )
    message = str_field(metadata={"description": "Human-readable; may change between versions"})
    # Not called `fields`: that name is marshmallow's (Schema.fields) and this module's.
    field_errors = fields.Dict(
        data_key="fields",
        metadata={"description": "Per-field messages (wire names), for validation errors"},
    )
    retry_after = fields.Integer(
        metadata={"description": "Seconds to wait (rate_limited); also the Retry-After header"}
    )


class ErrorSchema(CamelSchema):
    """Every error response: `{"error": {code, message, fields?, retryAfter?}}`."""

    error = fields.Nested(ErrorDetailSchema, required=True)


# -- users -------------------------------------------------------------------------------


class UserPublicSchema(CamelSchema):
    """A user as other users see them."""

    id = uuid_field()
    username = str_field()
    display_name = fields.String(required=True, allow_none=True)
    last_seen = fields.DateTime(required=True, allow_none=True)


class UserPrivateSchema(UserPublicSchema):
    """A user as they see themselves."""

    email = str_field()
    created_at = time_field()
    updated_at = time_field()


class DirectoryUserSchema(UserPublicSchema):
    """Another user, as the user directory shows them."""

    online = fields.Boolean(required=True)


class UserListSchema(CamelSchema):
    users = fields.List(fields.Nested(DirectoryUserSchema), required=True)


class AuthPairSchema(CamelSchema):
    """register / login / refresh: the account and a new token pair (also set as cookies)."""

    user = fields.Nested(UserPrivateSchema, required=True)
    access_token = str_field(
        metadata={"description": "JWT (HS256), sent as `Authorization: Bearer`"}
    )
    refresh_token = str_field(metadata={"description": "Opaque; spent by POST /api/auth/refresh"})
    expires_in = int_field(metadata={"description": "Access token lifetime in seconds"})


class UserRefSchema(CamelSchema):
    id = uuid_field()
    username = str_field()


class NullableUserRefSchema(CamelSchema):
    id = fields.UUID(required=True, allow_none=True)
    username = fields.String(required=True, allow_none=True)


# -- files -------------------------------------------------------------------------------


class FileSchema(CamelSchema):
    """An uploaded file (the upload response, and `file` on messages)."""

    id = uuid_field()
    url = str_field(metadata={"description": "GET it with the same credentials"})
    name = str_field(metadata={"description": "The sanitised original name"})
    mime_type = str_field(
        validate=validate.OneOf(
            ["image/jpeg", "image/png", "image/gif", "application/pdf", "text/plain"]
        )
    )
    size = int_field()
    width = fields.Integer()
    height = fields.Integer()
    thumbnail_url = fields.String()


# -- messages ----------------------------------------------------------------------------


class ReactionSchema(CamelSchema):
    """One emoji's reactions on a message."""

    emoji = str_field()
    count = int_field()
    user_ids = fields.List(
        fields.UUID(), required=True, metadata={"description": "Up to 50 of the reactors"}
    )


class ThreadSummarySchema(CamelSchema):
    """What a thread root carries about its replies."""

    reply_count = int_field()
    last_reply_at = fields.DateTime(required=True, allow_none=True)


class MessageSchema(CamelSchema):
    """A room message (docs/contract.md §6)."""

    id = uuid_field()
    room_id = uuid_field()
    seq = int_field(metadata={"description": "Per room: 1, 2, 3, ... without gaps"})
    user_id = fields.UUID(required=True, allow_none=True)
    username = fields.String(required=True, allow_none=True)
    content = str_field(metadata={"description": "Exactly as sent; render as text only"})
    content_html = str_field(metadata={"description": "Markdown rendered and allow-list sanitised"})
    message_type = str_field(validate=validate.OneOf(MESSAGE_TYPES))
    created_at = time_field()
    client_msg_id = fields.String()
    edited_at = fields.DateTime()
    file_id = fields.UUID()
    file = fields.Nested(FileSchema)
    change_seq = int_field(
        metadata={
            "description": "The room's change counter at this message's latest change "
            "(0: never changed); see docs/contract.md §12"
        }
    )
    reactions = fields.List(fields.Nested(ReactionSchema), required=True)
    pinned = fields.Boolean(required=True)
    thread_id = fields.UUID(metadata={"description": "Set on a reply: its thread's root"})
    thread = fields.Nested(ThreadSummarySchema)
    deleted_at = fields.DateTime(
        metadata={"description": "Set on a tombstone: content and file are gone"}
    )


class DirectMessageSchema(MessageSchema):
    """A DM: the message object plus the seed's sender and recipient names."""

    sender_id = fields.UUID(required=True, allow_none=True)
    sender_username = fields.String(required=True, allow_none=True)
    recipient_id = uuid_field()


class MessageEnvelopeSchema(CamelSchema):
    message = fields.Nested(MessageSchema, required=True)


class DirectMessageEnvelopeSchema(CamelSchema):
    message = fields.Nested(DirectMessageSchema, required=True)


class ChangedMessageSchema(MessageSchema):
    """A message as its changes carry it (`message_updated`, edit and delete answers, the
    change feed): in a direct room also with the DM fields (docs/contract.md §12)."""

    sender_id = fields.UUID(allow_none=True, metadata={"description": "Direct rooms only"})
    sender_username = fields.String(allow_none=True, metadata={"description": "Direct rooms only"})
    recipient_id = fields.UUID(metadata={"description": "Direct rooms only"})


class ChangedMessageEnvelopeSchema(CamelSchema):
    message = fields.Nested(ChangedMessageSchema, required=True)


class MessageVersionSchema(CamelSchema):
    """An earlier version of an edited message."""

    content = str_field()
    content_html = str_field()
    written_at = time_field()
    replaced_at = time_field()


class MessageEditsSchema(CamelSchema):
    """A message's earlier versions, oldest first, and the message as it is now."""

    edits = fields.List(fields.Nested(MessageVersionSchema), required=True)
    message = fields.Nested(ChangedMessageSchema, required=True)


class ChangePageSchema(CamelSchema):
    """One page of a room's change feed, in changeSeq order."""

    messages = fields.List(fields.Nested(ChangedMessageSchema), required=True)
    change_seq = int_field(metadata={"description": "Continue from here (`after=`)"})
    has_more = fields.Boolean(required=True)


class MessagePageSchema(CamelSchema):
    """A keyset page of history, in seq order."""

    messages = fields.List(fields.Nested(MessageSchema), required=True)
    has_more = fields.Boolean(required=True)
    last_seq = int_field()


class DirectMessagePageSchema(CamelSchema):
    messages = fields.List(fields.Nested(DirectMessageSchema), required=True)
    has_more = fields.Boolean(required=True)
    last_seq = int_field()
    room_id = fields.UUID(required=True, allow_none=True)


# -- rooms -------------------------------------------------------------------------------


class RoomSchema(CamelSchema):
    """A room; the caller fields (isMember...) are present where the caller is known."""

    id = uuid_field()
    name = str_field()
    description = fields.String(required=True, allow_none=True)
    is_private = fields.Boolean(required=True)
    kind = str_field(validate=validate.OneOf(ROOM_KINDS))
    created_by = fields.UUID(required=True, allow_none=True)
    created_at = time_field()
    last_seq = int_field()
    change_seq = int_field(metadata={"description": "Where the room's change feed stands"})
    member_count = int_field()
    is_member = fields.Boolean()
    is_invited = fields.Boolean()
    role = fields.String(allow_none=True, validate=validate.OneOf(ROLES))
    unread_count = fields.Integer()


class RoomPageSchema(CamelSchema):
    rooms = fields.List(fields.Nested(RoomSchema), required=True)
    has_more = fields.Boolean(required=True)
    next_cursor = fields.UUID(required=True, allow_none=True)


class MemberSchema(UserPublicSchema):
    role = str_field(validate=validate.OneOf(ROLES))
    joined_at = time_field()
    last_read_seq = int_field()
    online = fields.Boolean(required=True)


class MemberPageSchema(CamelSchema):
    members = fields.List(fields.Nested(MemberSchema), required=True)
    has_more = fields.Boolean(required=True)
    next_cursor = fields.UUID(required=True, allow_none=True)


class InviteCreatedSchema(CamelSchema):
    room = fields.Nested(RoomSchema, required=True)
    invited_by = fields.Nested(UserRefSchema, required=True)


class InviteSchema(CamelSchema):
    room = fields.Nested(RoomSchema, required=True)
    invited_by = fields.Nested(NullableUserRefSchema, required=True)
    invited_at = time_field()


class InviteListSchema(CamelSchema):
    invites = fields.List(fields.Nested(InviteSchema), required=True)


class ReadPositionsSchema(CamelSchema):
    room_id = uuid_field()
    reads = fields.Dict(
        keys=fields.UUID(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "userId -> last read seq"},
    )
    delivered = fields.Dict(
        keys=fields.UUID(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "userId -> last seq their client confirmed receiving"},
    )


# -- direct messages ---------------------------------------------------------------------


class ConversationUserSchema(UserPublicSchema):
    online = fields.Boolean(required=True)


class LastMessageSchema(CamelSchema):
    id = uuid_field()
    seq = int_field()
    sender_id = fields.UUID(required=True, allow_none=True)
    content = str_field()
    message_type = str_field(validate=validate.OneOf(MESSAGE_TYPES))
    created_at = time_field()


class ConversationSchema(CamelSchema):
    room_id = uuid_field()
    user = fields.Nested(ConversationUserSchema, required=True)
    last_message = fields.Nested(LastMessageSchema, required=True, allow_none=True)
    last_seq = int_field()
    last_read_seq = int_field()
    unread_count = int_field()


class ConversationListSchema(CamelSchema):
    conversations = fields.List(fields.Nested(ConversationSchema), required=True)


# -- emoji (the web client's reaction picker) ----------------------------------------------


class EmojiSchema(CamelSchema):
    emoji = str_field(metadata={"description": "One fully-qualified Unicode emoji."})
    name = str_field(metadata={"description": "Its English CLDR name, lower case (`thumbs up`)."})


class EmojiListSchema(CamelSchema):
    emoji = fields.List(fields.Nested(EmojiSchema), required=True)


# -- operations --------------------------------------------------------------------------


class HealthSchema(CamelSchema):
    status = str_field(validate=validate.OneOf(["ok", "unavailable"]))
    checks = fields.Dict(keys=fields.String(), values=fields.String())


# -- messages that change (docs/contract.md §12) -------------------------------------------


class MessageListSchema(CamelSchema):
    """A room's pinned messages, newest pin first."""

    messages = fields.List(fields.Nested(MessageSchema), required=True)


class ThreadPageSchema(CamelSchema):
    """A thread: its root's current state and a page of its replies in seq order."""

    root = fields.Nested(MessageSchema, required=True)
    messages = fields.List(fields.Nested(MessageSchema), required=True)
    has_more = fields.Boolean(required=True)
