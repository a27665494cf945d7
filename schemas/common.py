"""Field rules shared by several schemas."""

from __future__ import annotations

import unicodedata
from typing import Any

from marshmallow import Schema, ValidationError, fields

# Newline and tab are the only control characters a chat message may contain.
ALLOWED_CONTROL_CHARS = frozenset("\n\t")


def no_control_chars(value: str) -> None:
    """Reject control characters (except newline/tab) and unpaired surrogates.

    A NUL byte cannot be stored by PostgreSQL and a lone surrogate is not UTF-8: both
    would otherwise surface as server errors.
    """
    for ch in value:
        if ch in ALLOWED_CONTROL_CHARS:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cc":
            raise ValidationError("Control characters are not allowed.")
        if cat == "Cs":
            raise ValidationError("Invalid Unicode (unpaired surrogate).")


def single_line(value: str) -> None:
    """Names and titles: no control characters at all."""
    if "\n" in value or "\t" in value:
        raise ValidationError("Must be a single line.")
    no_control_chars(value)


def not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


class CamelSchema(Schema):
    """Fields are snake_case in Python and camelCase on the wire."""

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        field_obj.data_key = _camel(field_obj.data_key or field_name)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class StrictInteger(fields.Integer):
    """An integer that must be a JSON number, not a numeric string or a boolean."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        result = super()._deserialize(value, attr, data, **kwargs)
        assert isinstance(result, int)
        return result


class StrictBoolean(fields.Boolean):
    """A JSON true/false, not "yes", 1 or "true"."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value
