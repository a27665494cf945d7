"""JWT access tokens and opaque refresh tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass

import jwt

from chat_server.errors import InvalidToken, TokenExpired

# Pinned: decoding never trusts the token's own `alg` header (no `none`, no RS/HS confusion).
JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - a claim value, not a secret  # nosec B105
# Tolerated clock difference between instances when checking exp/iat.
CLOCK_LEEWAY_S = 5
# Domain separation: the JWT secret also keys the successor derivation below, and the
# MAC of a refresh token must never be usable as anything else.
_SUCCESSOR_CONTEXT = b"chat-server refresh successor v1\x00"


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a verified access token says."""

    user_id: str
    username: str
    session_id: str
    jti: str
    expires_at: int


class TokenCodec:
    """Issues and verifies signed access tokens."""

    def __init__(self, secret: str, access_ttl_s: int):
        if not secret:
            raise ValueError("a JWT secret is required")
        self._secret = secret
        self.access_ttl_s = access_ttl_s

    def issue_access(
        self, user_id: str, username: str, session_id: str
    ) -> tuple[str, AccessClaims]:
        now = int(time.time())
        claims = AccessClaims(
            user_id=user_id,
            username=username,
            session_id=session_id,
            jti=uuid.uuid4().hex,
            expires_at=now + self.access_ttl_s,
        )
        token = jwt.encode(
            {
                "sub": user_id,
                "name": username,
                "sid": session_id,
                "jti": claims.jti,
                "type": ACCESS_TOKEN_TYPE,
                "iat": now,
                "nbf": now,
                "exp": claims.expires_at,
            },
            self._secret,
            algorithm=JWT_ALGORITHM,
        )
        return token, claims

    def successor_refresh_token(self, spent: str) -> str:
        """The refresh token that replaces `spent` at rotation: HMAC-SHA256 of it under the
        server secret, in the format of `new_refresh_token` (256 bits, URL-safe).

        Derived rather than random so that a replay of `spent` inside the grace window
        (two tabs, a retry after a lost response) can be answered with the very same
        successor while only hashes are stored: no second live token, no session branch.
        Unpredictable without both the spent token and the secret.
        """
        mac = hmac.new(
            self._secret.encode(), _SUCCESSOR_CONTEXT + spent.encode(), hashlib.sha256
        ).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def decode_access(self, token: str) -> AccessClaims:
        """Verify signature, algorithm, expiry and type; raise InvalidToken otherwise."""
        try:
            data = jwt.decode(
                token,
                self._secret,
                algorithms=[JWT_ALGORITHM],
                leeway=CLOCK_LEEWAY_S,
                options={"require": ["exp", "iat", "jti", "sub", "type", "sid"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenExpired() from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken() from exc
        if data.get("type") != ACCESS_TOKEN_TYPE:
            raise InvalidToken()
        if not all(type(data[k]) is int for k in ("exp", "iat")):
            # PyJWT takes numeric strings for exp; we only ever issue integers.
            raise InvalidToken()
        try:
            return AccessClaims(
                user_id=str(uuid.UUID(str(data["sub"]))),
                username=str(data.get("name", "")),
                session_id=str(data["sid"]),
                jti=str(data["jti"]),
                expires_at=int(data["exp"]),
            )
        except (ValueError, TypeError) as exc:
            raise InvalidToken() from exc


def new_refresh_token() -> str:
    """An opaque, unguessable refresh token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What is stored: a leaked table cannot be replayed."""
    return hashlib.sha256(token.encode()).hexdigest()
