"""The text policy for lone UTF-16 surrogates, applied to every REST body, query and path
and every socket payload by `schemas.load` (and to the socket handshake token).

A decoded JSON string holds a surrogate code point only when the text had an unpaired
`\\ud800`-`\\udfff` escape (a valid pair decodes to one astral character): the mark of a JS
string cut in the middle of an emoji. It is not UTF-8, so it can be neither stored, hashed
nor sent on. It is refused with a validation error naming the field, never silently
replaced with U+FFFD: the sender learns its text was broken, and a client outbox gets a
final answer instead of retrying.
"""

from __future__ import annotations

import re
from typing import Any

# One regex search per string: every message's content passes here.
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


def unpaired_surrogate_errors(data: dict[Any, Any]) -> dict[str, list[str]]:
    """Per-field errors for the fields of `data` holding a lone surrogate anywhere;
    `_schema` for a key that holds one (it is never echoed back)."""
    errors: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(key, str) and has_unpaired_surrogate(key):
            errors["_schema"] = [UNPAIRED_SURROGATE_MESSAGE]
        elif contains_unpaired_surrogate(value):
            errors[str(key)] = [UNPAIRED_SURROGATE_MESSAGE]
    return errors
