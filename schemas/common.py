"""Field rules shared by several schemas."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load

# Newline and tab are the only control characters a chat message may contain.
ALLOWED_CONTROL_CHARS = frozenset("\n\t")
# Unicode category Cc (U+0000-U+001F, U+007F-U+009F) minus tab and newline. One regex
# search instead of a per-character category lookup: every message's content passes here.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# A decoded JSON string holds a surrogate code point only when the text had an unpaired
# `\ud800`-`\udfff` escape (a valid pair becomes one astral character): the mark of a JS
# string cut in the middle of an emoji. It is not UTF-8, so it can be neither stored nor
# sent on; it is refused (never silently replaced) so the sender can fix and resend it.
_SURROGATES = re.compile("[\ud800-\udfff]")
UNPAIRED_SURROGATE_MESSAGE = "Contains an unpaired surrogate (broken emoji); resend the text."


def has_unpaired_surrogate(value: str) -> bool:
    """Whether `value` holds a lone UTF-16 surrogate (cannot be encoded as UTF-8)."""
    return _SURROGATES.search(value) is not None


def contains_unpaired_surrogate(value: Any) -> bool:
    """Whether any string in a decoded JSON value (object keys included) holds a lone
    surrogate. Iterative: payloads may nest deeply."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATES.search(item) is not None:
                return True
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and _SURROGATES.search(key) is not None:
                    return True
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return False


def no_control_chars(value: str) -> None:
    """Reject control characters (except newline/tab) and unpaired surrogates.

    A NUL byte cannot be stored by PostgreSQL and a lone surrogate is not UTF-8: both
    would otherwise surface as server errors.
    """
    if _CONTROL_CHARS.search(value) is not None:
        raise ValidationError("Control characters are not allowed.")
    if _SURROGATES.search(value) is not None:
        raise ValidationError(UNPAIRED_SURROGATE_MESSAGE)


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

    @pre_load
    def _refuse_unpaired_surrogates(self, data: Any, **_: Any) -> Any:
        """The text policy for every string of every body, query and socket payload: a
        lone surrogate is a validation error naming its field (`_schema` for a key).

        Runs before any field, so no validator, password hash or error message (unknown
        field names are echoed) ever meets such a string.
        """
        if not isinstance(data, dict):
            return data
        errors: dict[str, list[str]] = {}
        for key, value in data.items():
            if isinstance(key, str) and has_unpaired_surrogate(key):
                errors["_schema"] = [UNPAIRED_SURROGATE_MESSAGE]
            elif contains_unpaired_surrogate(value):
                errors[str(key)] = [UNPAIRED_SURROGATE_MESSAGE]
        if errors:
            raise ValidationError(errors)
        return data


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
