"""Domain errors. Each carries the public error code of docs/contract.md §5; the transports map
them to an HTTP status (api/) or an `{ok: false, error}` ack (realtime/)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg


class ChatError(Exception):
    """Base of every error a client is allowed to see."""

    code = "internal_error"
    status = 500
    default_message = "Something went wrong"

    def __init__(self, message: str | None = None, *, fields: Mapping[str, Any] | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.fields = dict(fields) if fields else None

    def to_dict(self) -> dict[str, Any]:
        """The `error` object of the public error shape."""
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        return body


class ValidationFailed(ChatError):
    code, status, default_message = "validation_error", 400, "Invalid input"


class Unauthenticated(ChatError):
    code, status, default_message = "unauthenticated", 401, "Authentication required"


class InvalidToken(Unauthenticated):
    code, default_message = "invalid_token", "Invalid token"


class TokenExpired(InvalidToken):
    code, default_message = "token_expired", "Token expired"


class Forbidden(ChatError):
    code, status, default_message = "forbidden", 403, "Not allowed"


class NotFound(ChatError):
    code, status, default_message = "not_found", 404, "Not found"


class Conflict(ChatError):
    code, status, default_message = "conflict", 409, "Conflict"


class TooLarge(ChatError):
    code, status, default_message = "too_large", 413, "Too large"


class UnsupportedMediaType(ChatError):
    code, status, default_message = "unsupported_media_type", 415, "Unsupported media type"


class RateLimited(ChatError):
    code, status, default_message = "rate_limited", 429, "Too many requests"

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))

    def to_dict(self) -> dict[str, Any]:
        body = super().to_dict()
        body["retryAfter"] = self.retry_after
        return body


class TooManyConnections(ChatError):
    """A user already has MAX_CONNECTIONS_PER_USER live sockets (cluster-wide)."""

    code, status, default_message = "too_many_connections", 429, "Too many connections"


class Unavailable(ChatError):
    code, status, default_message = "unavailable", 503, "Temporarily unavailable, retry"


# Failures that mean "PostgreSQL is unreachable or restarting": the client should retry.
DATABASE_DOWN: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    ConnectionRefusedError,
    TimeoutError,
    # A pooled connection whose backend was just terminated: the server's FATAL error has
    # arrived but the close has not, and asyncpg refuses the next query with "cannot switch
    # to state 12; another operation (2) is in progress" (seen in tests/cluster chaos).
    asyncpg.InternalClientError,
)
