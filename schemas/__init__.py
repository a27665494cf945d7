"""Marshmallow schemas: the one place every REST body and socket payload is validated.

`load(schema, data)` returns the cleaned data or raises the domain `ValidationFailed` with
per-field messages in camelCase, the public error shape of docs/contract.md §5. Text holding a
lone UTF-16 surrogate is refused first, whatever the schema (`schemas/text.py`).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema
from marshmallow import ValidationError as _MarshmallowError

from chat_server.errors import ValidationFailed
from schemas.text import UNPAIRED_SURROGATE_MESSAGE, unpaired_surrogate_errors


def load(schema: Schema, data: Any) -> dict[str, Any]:
    """Validate `data` against `schema`; never lets a marshmallow error escape."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            "Expected a JSON object", fields={"_schema": ["Expected an object."]}
        )
    refused = unpaired_surrogate_errors(data)
    if refused:
        # Before any field: no validator, password hash or echoed field name meets the text.
        raise ValidationFailed(UNPAIRED_SURROGATE_MESSAGE, fields=refused)
    try:
        result = schema.load(data)
    except _MarshmallowError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed("Invalid input", fields=messages) from exc
    assert isinstance(result, dict)
    return result
