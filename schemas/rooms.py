"""Room ids in paths and payloads."""

from __future__ import annotations

from marshmallow import fields, validate

from schemas.common import CamelSchema

ROOM_LIST_DEFAULT = 100
ROOM_LIST_MAX = 200


class RoomPathSchema(CamelSchema):
    id = fields.UUID(required=True)


class RoomListQuerySchema(CamelSchema):
    limit = fields.Integer(load_default=ROOM_LIST_DEFAULT, validate=validate.Range(min=1, max=ROOM_LIST_MAX))
