"""Field rules shared by several schemas."""

from __future__ import annotations

import re
from typing import Any

from marshmallow import Schema, ValidationError, fields

# The text rules below exist twice: as Python checks (with clear messages) and as the
# JSON Schema `pattern`s the OpenAPI document gives the same fields. Both are built from
# these character classes, written so that one string is a valid class for Python's `re`,
# ECMAScript and Rust's regex (what schemathesis validates with): keep them BMP-only.
# Cc, the C0 and C1 control characters and DEL.
CONTROL_CLASS = r"\u0000-\u001f\u007f-\u009f"
# Cc without newline and tab, the only control characters free text may contain.
TEXT_CONTROL_CLASS = r"\u0000-\u0008\u000b-\u001f\u007f-\u009f"
# What str.strip() removes that is not already a control character (str.isspace()); not
# `\s`, whose meaning differs between Python, ECMAScript (U+FEFF) and Rust.
SPACE_CLASS = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Cf in the BMP, the invisible format characters (soft hyphen, zero-width space and
# joiners, bidi marks and overrides, BOM...): a room name holding them can look like
# another one or reorder the text around it. tests/security/test_openapi.py checks this
# is exactly Cf below U+10000 (Cf above it, e.g. tag characters, cannot be written in an
# ECMAScript class without the `u` flag, so the rule stops at the BMP).
FORMAT_CLASS = (
    r"\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)
# Newline and tab are the only control characters a chat message may contain.
ALLOWED_CONTROL_CHARS = frozenset("\n\t")

# Python's `$` also matches before a trailing newline; `(?!\n)` forbids that there and is
# a no-op in ECMAScript (as in USERNAME_RE), so each pattern means the same in both.
END = r"$(?!\n)"
# Free text (messages, descriptions): no control character but newline and tab.
TEXT_PATTERN = rf"^[^{TEXT_CONTROL_CLASS}]*{END}"
# Free text that must say something (a text message): also not only whitespace.
NONBLANK_TEXT_PATTERN = (
    rf"^[^{TEXT_CONTROL_CLASS}]*[^{CONTROL_CLASS}{SPACE_CLASS}][^{TEXT_CONTROL_CLASS}]*{END}"
)
# One line (search terms, passwords, login names): no control character at all.
LINE_PATTERN = rf"^[^{CONTROL_CLASS}]*{END}"
# A name: one line with at least one visible character.
NAME_PATTERN = rf"^[^{CONTROL_CLASS}]*[^{CONTROL_CLASS}{SPACE_CLASS}][^{CONTROL_CLASS}]*{END}"
# A name others see in lists (rooms): also no invisible format characters.
VISIBLE_NAME_PATTERN = (
    rf"^[^{CONTROL_CLASS}{FORMAT_CLASS}]*[^{CONTROL_CLASS}{FORMAT_CLASS}{SPACE_CLASS}]"
    rf"[^{CONTROL_CLASS}{FORMAT_CLASS}]*{END}"
)

_CONTROL_RE = re.compile(f"[{CONTROL_CLASS}]")
_TEXT_CONTROL_RE = re.compile(f"[{TEXT_CONTROL_CLASS}]")
_FORMAT_RE = re.compile(f"[{FORMAT_CLASS}]")
# Lone surrogates cannot be written as a JSON Schema pattern (the document's regex engines
# work on code points, where they do not exist); the descriptions mention them instead.
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
# Appended to the description of every field with a text rule.
SURROGATE_NOTE = "Unpaired surrogates (\\udXXX escapes) are refused."


def no_control_chars(value: str) -> None:
    """Reject control characters (except newline/tab) and unpaired surrogates.

    A NUL byte cannot be stored by PostgreSQL and a lone surrogate is not UTF-8: both
    would otherwise surface as server errors.
    """
    if _TEXT_CONTROL_RE.search(value):
        raise ValidationError("Control characters are not allowed.")
    if _SURROGATE_RE.search(value):
        raise ValidationError("Invalid Unicode (unpaired surrogate).")


def single_line(value: str) -> None:
    """Names and titles: no control characters at all."""
    if "\n" in value or "\t" in value:
        raise ValidationError("Must be a single line.")
    no_control_chars(value)


def no_format_chars(value: str) -> None:
    """Visible names: no invisible format characters (FORMAT_CLASS)."""
    if _FORMAT_RE.search(value):
        raise ValidationError("Invisible formatting characters are not allowed.")


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
