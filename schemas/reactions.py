"""Reactions, pins and threads (docs/contract.md §12): socket payloads and REST paths/queries."""

from __future__ import annotations

from typing import Any

import emoji as emoji_data
from marshmallow import ValidationError, fields, validate

from schemas.common import CONTROL_CLASS, END, SPACE_CLASS, CamelSchema
from schemas.messages import HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT, SEQ_MAX

# The longest emoji (ZWJ families with skin tones, subdivision flags) is 10 code points in
# Unicode 16; room for future sequences. The column is varchar(64).
MAX_EMOJI_CHARS = 32
# What no emoji contains (control characters, spaces, ASCII letters and most punctuation:
# keycaps use only `#`, `*` and digits), for the OpenAPI pattern. A pattern cannot say "one
# emoji" (that is Unicode's emoji data, not a regular language of reasonable size): it only
# narrows the strings, and the server checks the rest (400). BMP-only, as schemas/common.py
# requires, so a negated class matches emoji outside the BMP in every regex engine.
_NOT_IN_EMOJI = CONTROL_CLASS + SPACE_CLASS + r"\u0021\u0022\u0024-\u0029\u002b-\u002f\u003a-\u007e"
EMOJI_PATTERN = rf"^[^{_NOT_IN_EMOJI}]{{1,{MAX_EMOJI_CHARS}}}{END}"
_FULLY_QUALIFIED = emoji_data.STATUS["fully_qualified"]
_COMPONENT = emoji_data.STATUS["component"]


def one_emoji(value: str) -> str:
    """`value` as the one fully-qualified emoji it is (`❤` -> `❤️`: one heart, not two), or
    ValidationError. A bare component (a skin tone alone) is not a reaction."""
    if not emoji_data.is_emoji(value):
        raise ValidationError("Must be exactly one emoji.")
    status = emoji_data.EMOJI_DATA.get(value, {}).get("status")
    if status == _COMPONENT:
        raise ValidationError("Must be exactly one emoji.")
    if status != _FULLY_QUALIFIED:
        qualified = emoji_data.emojize(emoji_data.demojize(value))
        if emoji_data.EMOJI_DATA.get(qualified, {}).get("status") == _FULLY_QUALIFIED:
            return str(qualified)
    return value


class Emoji(fields.String):
    """One Unicode emoji (ZWJ sequences, skin tones, flags included), stored fully qualified."""

    def __init__(self, **kwargs: Any):
        super().__init__(
            validate=validate.Length(min=1, max=MAX_EMOJI_CHARS),
            metadata={
                "pattern": EMOJI_PATTERN,
                "description": "Exactly one Unicode emoji (checked against Unicode's emoji "
                "data; other strings are refused with 400). Stored fully qualified.",
            },
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        assert isinstance(text, str)
        if len(text) > MAX_EMOJI_CHARS:
            raise ValidationError("Must be exactly one emoji.")
        return one_emoji(text)


class MessageRefSchema(CamelSchema):
    """`pin_message` / `unpin_message`: a message of a room."""

    room_id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)


class ReactionEventSchema(MessageRefSchema):
    """`add_reaction` / `remove_reaction`."""

    emoji = Emoji(required=True)


class ThreadPathSchema(CamelSchema):
    """/api/rooms/{id}/messages/{messageId}/thread"""

    id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)


class ReactionPathSchema(CamelSchema):
    """/api/rooms/{id}/messages/{messageId}/reactions/{emoji} (the emoji percent-encoded)."""

    id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)
    emoji = Emoji(required=True)


class PinPathSchema(CamelSchema):
    """/api/rooms/{id}/pins/{messageId}"""

    id = fields.UUID(required=True)
    message_id = fields.UUID(required=True)


class ThreadQuerySchema(CamelSchema):
    """A forward page of a thread's replies."""

    after = fields.Integer(load_default=0, validate=validate.Range(min=0, max=SEQ_MAX))
    limit = fields.Integer(
        load_default=HISTORY_DEFAULT_LIMIT, validate=validate.Range(min=1, max=HISTORY_MAX_LIMIT)
    )
