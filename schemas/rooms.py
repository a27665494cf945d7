"""Rooms: creation, listing, membership, invites, typing and read pointers."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, pre_load, validate, validates_schema

from schemas.common import (
    CamelSchema,
    StrictBoolean,
    StrictInteger,
    no_control_chars,
    no_format_chars,
    not_blank,
    single_line,
)
from schemas.messages import SEQ_MAX

ROOM_LIST_DEFAULT = 100
ROOM_LIST_MAX = 200
MEMBER_LIST_DEFAULT = 100
MEMBER_LIST_MAX = 500
ROOM_NAME_MAX = 100
ROOM_DESCRIPTION_MAX = 1000
SEARCH_MAX = 100


class RoomPathSchema(CamelSchema):
    id = fields.UUID(required=True)


class UserPathSchema(CamelSchema):
    user_id = fields.UUID(required=True, data_key="userId")


class RoomListQuerySchema(CamelSchema):
    limit = fields.Integer(
        load_default=ROOM_LIST_DEFAULT, validate=validate.Range(min=1, max=ROOM_LIST_MAX)
    )
    search = fields.String(validate=[validate.Length(min=1, max=SEARCH_MAX), single_line])
    cursor = fields.UUID()


class MemberListQuerySchema(CamelSchema):
    limit = fields.Integer(
        load_default=MEMBER_LIST_DEFAULT, validate=validate.Range(min=1, max=MEMBER_LIST_MAX)
    )
    cursor = fields.UUID()


class CreateRoomSchema(CamelSchema):
    """Names are trimmed: " general" and "general" must not be two different rooms."""

    @pre_load
    def _trim_name(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            return {**data, "name": data["name"].strip()}
        return data

    name = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=ROOM_NAME_MAX),
            single_line,
            not_blank,
            no_format_chars,
        ],
    )
    description = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=ROOM_DESCRIPTION_MAX), no_control_chars],
    )
    is_private = StrictBoolean(load_default=False)


class InviteSchema(CamelSchema):
    user_id = fields.UUID(required=True)


class RoomEventSchema(CamelSchema):
    """`join_room`, `leave_room`: {roomId}."""

    room_id = fields.UUID(required=True)


class TypingSchema(CamelSchema):
    """`typing_start` / `typing_stop`: {roomId} (a room or a DM's room), or {userId} for a DM."""

    room_id = fields.UUID()
    user_id = fields.UUID()

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if ("room_id" in data) == ("user_id" in data):
            raise ValidationError("Give exactly one of roomId or userId.", "_schema")


class MarkReadSchema(TypingSchema):
    """`mark_read`: {roomId or userId, seq}."""

    seq = StrictInteger(required=True, validate=validate.Range(min=0, max=SEQ_MAX))
