"""Schemathesis hooks for tests/security/test_schemathesis.py (imported there, and loaded by
the CLI run through SCHEMATHESIS_HOOKS).

The OpenAPI document says what the server accepts, with one rule JSON Schema cannot state:
a password is at most 72 bytes of UTF-8 (bcrypt's limit, docs/contract.md §5). The document gives
`maxLength: 72` (characters) and says the rest in words, so a schema-valid password of
multibyte characters may still be refused. Positive cases with such a password are not
generated; negative ones are, and must be refused.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from schemas.auth import PASSWORD_MAX_BYTES


def _too_long(value: Any) -> bool:
    return (
        isinstance(value, str)
        and len(value.encode("utf-8", errors="surrogatepass")) > PASSWORD_MAX_BYTES
    )


@schemathesis.hook
def filter_case(context: Any, case: schemathesis.Case) -> bool:
    """Drop positive cases whose `password` is over the byte limit."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return True
    return not _too_long(case.body.get("password"))
