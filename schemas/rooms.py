"""Rooms: creation, listing, membership, invites, typing and read pointers."""

from __future__ import annotations

import unicodedata
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

# Invisible characters that are not Unicode format (Cf) characters but are just as
# invisible (Default_Ignorable_Code_Point): combining grapheme joiner, Hangul fillers,
# Khmer inherent vowels, Mongolian and generic variation selectors. "lobby" followed by one
# of these would be a second, identical-looking "lobby".
_IGNORABLE_RANGES = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xE0100, 0xE01EF),
)
_ZWJ = "\u200d"
# Emoji presentation selectors (text / emoji): allowed right after a symbol.
_EMOJI_SELECTORS = frozenset("\ufe0e\ufe0f")
# Bidi embeddings, overrides and isolates reorder the text around them ("Trojan Source"
# spoofing). Marks (LRM, RLM, ALM) and joiners are kept in free text: scripts need them.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _invisible(ch: str) -> bool:
    cp = ord(ch)
    return unicodedata.category(ch) in ("Cf", "Zl", "Zp") or any(
        lo <= cp <= hi for lo, hi in _IGNORABLE_RANGES
    )


def _symbol(ch: str) -> bool:
    """Emoji and their skin-tone modifiers (So, Sk)."""
    return unicodedata.category(ch) in ("So", "Sk")


def visible_name(value: str) -> None:
    """Refuse names holding invisible format characters (zero-width spaces and joiners,
    bidi controls, soft hyphens, fillers, variation selectors, tags): they make two
    different names look the same, e.g. "lobby" and "lob\u200bby" (issue 14).

    Emoji sequences keep their glue: a variation selector right after a symbol, and a
    zero-width joiner between symbols (e.g. woman + ZWJ + laptop).
    """
    for i, ch in enumerate(value):
        if not _invisible(ch):
            continue
        before = value[i - 1] if i > 0 else ""
        after = value[i + 1] if i + 1 < len(value) else ""
        if ch in _EMOJI_SELECTORS and before and _symbol(before):
            continue
        if (
            ch == _ZWJ
            and before
            and (_symbol(before) or before in _EMOJI_SELECTORS)
            and after
            and _symbol(after)
        ):
            continue
        raise ValidationError(
            f"Invisible formatting character U+{ord(ch):04X} is not allowed in names."
        )


def no_bidi_controls(value: str) -> None:
    """Refuse bidi embeddings, overrides and isolates in free text (descriptions)."""
    for ch in value:
        if ch in BIDI_CONTROLS:
            raise ValidationError(f"Bidirectional control U+{ord(ch):04X} is not allowed.")


def normal_name(value: str) -> str:
    """The form a name is stored and compared in: NFKC (full-width letters, ligatures and
    composed/decomposed accents become one spelling), then trimmed."""
    return unicodedata.normalize("NFKC", value).strip()


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

    @pre_load
    def _normal_search(self, data: Any, **_: Any) -> Any:
        """Search in the names' stored form (a full-width query finds ASCII names)."""
        if isinstance(data, dict) and isinstance(data.get("search"), str):
            return {**data, "search": unicodedata.normalize("NFKC", data["search"])}
        return data


class MemberListQuerySchema(CamelSchema):
    limit = fields.Integer(
        load_default=MEMBER_LIST_DEFAULT, validate=validate.Range(min=1, max=MEMBER_LIST_MAX)
    )
    cursor = fields.UUID()


class CreateRoomSchema(CamelSchema):
    """Names are normalised (NFKC) and trimmed, and refuse invisible characters: " general",
    full-width "general" and "gen\u200beral" must not be rooms beside "general". (Public names
    are then unique case-insensitively, by the database's index.)"""

    @pre_load
    def _normal_name(self, data: Any, **_: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            return {**data, "name": normal_name(data["name"])}
        return data

    name = fields.String(
        required=True,
        validate=[
            validate.Length(min=1, max=ROOM_NAME_MAX),
            single_line,
            not_blank,
            # The document's pattern says exactly this (Cf in the BMP) ...
            no_format_chars,
            # ... and this refuses the other invisible characters a pattern cannot say
            # in context (variation selectors except after an emoji, fillers, astral
            # ignorables).
            visible_name,
        ],
    )
    description = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=ROOM_DESCRIPTION_MAX), no_control_chars, no_bidi_controls],
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
