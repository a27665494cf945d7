"""The client's exceptions and the error codes it reacts to.

Owns: the exception classes a bot sees (`ChatClientError`, `AuthError`, `ClientClosed`), the
internal signals between the client's parts (`ConnectionLost`, `HandshakeRefused`) and the
sets of server error codes that mean "retry" or "refresh the token". Must not: import
anything outside the standard library, or know how errors are transported (REST or ack).
"""

from __future__ import annotations

from typing import Any

# Error codes after which re-sending the same message can succeed.
RETRYABLE_CODES = frozenset({"unavailable", "internal_error"})
# Handshake/auth codes that a fresh access token fixes.
TOKEN_CODES = frozenset({"invalid_token", "token_expired", "unauthenticated"})


class ChatClientError(Exception):
    """An error answered by the server (`{error: {code, message}}`) or a client failure."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        fields: dict[str, Any] | None = None,
    ):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.fields = fields

    @classmethod
    def from_ack(cls, ack: Any, default_code: str = "internal_error") -> ChatClientError:
        """The error carried by a refused ack (`{ok: false, error: {code, message}}`)."""
        error = ack.get("error") if isinstance(ack, dict) else None
        error = error if isinstance(error, dict) else {}
        return cls(
            str(error.get("code") or default_code),
            str(error.get("message", "")),
            fields=error.get("fields"),
        )


class AuthError(ChatClientError):
    """Credentials or the login session are no longer valid: log in again."""


class ClientClosed(ChatClientError):
    """The client was closed before the operation completed."""

    def __init__(self) -> None:
        super().__init__("client_closed", "The client was closed")


class ConnectionLost(Exception):
    """The socket went away while we waited for an ack."""


class HandshakeRefused(Exception):
    """The server refused the namespace connection (`connect_error`)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
