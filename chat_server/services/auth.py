"""Accounts and sessions: register, log in, refresh with rotation, log out."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import structlog

from chat_server.errors import InvalidToken, Unauthenticated
from chat_server.events import Event, Publisher, Target
from chat_server.services import passwords, wire
from chat_server.services.blacklist import TokenBlacklist
from chat_server.services.tokens import (
    AccessClaims,
    TokenCodec,
    hash_refresh_token,
    new_refresh_token,
)
from chat_server.store import rooms as room_store
from chat_server.store import tokens as token_store
from chat_server.store import users as user_store

log = structlog.get_logger(__name__)

# Blacklist key of a whole login session (all its access tokens), next to per-token jtis.
_SESSION_PREFIX = "session:"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: who they are and which login session they use."""

    user_id: str
    username: str
    session_id: str
    jti: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "user": self.user,
            "accessToken": self.access_token,
            "refreshToken": self.refresh_token,
            "expiresIn": self.expires_in,
        }


class AuthService:
    """Owns credentials, tokens and login sessions (refresh-token families)."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        codec: TokenCodec,
        blacklist: TokenBlacklist,
        publisher: Publisher,
        *,
        bcrypt_rounds: int,
        refresh_ttl_s: int,
        refresh_reuse_grace_s: int = 10,
    ):
        self._pool = pool
        self._codec = codec
        self._blacklist = blacklist
        self._publisher = publisher
        self._rounds = bcrypt_rounds
        self._refresh_ttl = timedelta(seconds=refresh_ttl_s)
        self._reuse_grace = timedelta(seconds=refresh_reuse_grace_s)
        # Checked against when a login names no account, so an unknown email costs the same
        # bcrypt time as a wrong password and timing does not reveal which accounts exist.
        self._dummy_hash: str | None = None

    async def register(self, email: str, username: str, password: str) -> TokenPair:
        """Create an account, make it a lobby member and open its first session."""
        password_hash = await passwords.hash_password(password, self._rounds)
        async with self._pool.acquire() as conn, conn.transaction():
            user = await user_store.create_user(conn, email, username, password_hash)
            await room_store.add_member(conn, room_store.LOBBY_ROOM_ID, user["id"])
            pair = await self._open_session(conn, user)
        log.info("user_registered", user_id=str(user["id"]))
        # Joining the lobby is a join like any other: its members' lists and counts follow.
        await self._publisher.publish(
            Event(
                "user_joined",
                {
                    "roomId": str(room_store.LOBBY_ROOM_ID),
                    "user": {"id": str(user["id"]), "username": user["username"]},
                },
                Target.room(room_store.LOBBY_ROOM_ID),
            )
        )
        return pair

    async def login(self, identifier: str, password: str) -> TokenPair:
        """Check credentials (email or username) and open a new session."""
        async with self._pool.acquire() as conn:
            user = await user_store.get_login(conn, identifier)
        if user is None:
            if self._dummy_hash is None:
                self._dummy_hash = await passwords.hash_password(uuid.uuid4().hex, self._rounds)
            await passwords.verify_password(password, self._dummy_hash)
            raise Unauthenticated("Invalid email or password")
        if not await passwords.verify_password(password, user.pop("password_hash")):
            raise Unauthenticated("Invalid email or password")
        async with self._pool.acquire() as conn, conn.transaction():
            return await self._open_session(conn, user)

    async def login_account_key(self, identifier: str) -> str:
        """The per-account lock-out key of a login identifier: folded by the database as
        the account lookup folds it, so every spelling that reaches an account counts for
        that account (and one that reaches none, for itself: no enumeration)."""
        async with self._pool.acquire() as conn:
            return "login:" + await user_store.fold_identifier(conn, identifier)

    async def refresh(self, refresh_token: str) -> TokenPair:
        """Exchange a refresh token for a new pair; the old one is spent.

        Presenting a spent (rotated) token means it was stolen or replayed: the whole
        family is revoked (its refresh tokens, and its access tokens through the session
        blacklist) and the caller must log in again. Within the grace window after the
        rotation a reuse is taken for a concurrent refresh (two tabs, a client retry after
        a lost response) and gets the same successor refresh token that the rotation
        produced (with a fresh access token of the session): never a second live refresh
        token, so a copy of the token cannot branch the session.
        """
        token_hash = hash_refresh_token(refresh_token)
        reused_family = None
        async with self._pool.acquire() as conn, conn.transaction():
            row = await token_store.lock_refresh_token(conn, token_hash)
            if row is None or row["revoked_at"] is not None:
                raise InvalidToken("Invalid refresh token")
            now = datetime.now(UTC)
            in_grace = (
                row["rotated_at"] is not None and now - row["rotated_at"] <= self._reuse_grace
            )
            if row["rotated_at"] is not None and not in_grace:
                await token_store.revoke_family(conn, row["family_id"])
                reused_family = row["family_id"]
            elif row["expires_at"] <= now:
                raise InvalidToken("Refresh token expired")
            else:
                user = await user_store.get_user(conn, row["user_id"])
                if user is None:
                    raise InvalidToken("Invalid refresh token")
                successor = self._codec.successor_refresh_token(refresh_token)
                if not in_grace:
                    await token_store.mark_rotated(conn, row["id"])
                    return await self._issue(conn, user, row["family_id"], successor)
                return await self._reissue(conn, user, row["family_id"], successor)
        # Outside the transaction so the revocation is committed whatever happens next.
        log.warning("refresh_token_reuse", family_id=str(reused_family))
        await self._revoke_access(str(reused_family))
        await self._publisher.revoke_session(str(reused_family))
        raise InvalidToken("Refresh token reuse detected; session revoked")

    async def logout(self, principal: Principal) -> None:
        """End a login session: blacklist the access token, revoke its refresh family and
        disconnect its sockets everywhere."""
        await self._blacklist.add(principal.jti, principal.expires_at)
        await self._revoke_access(principal.session_id)
        async with self._pool.acquire() as conn:
            await token_store.revoke_family(conn, uuid.UUID(principal.session_id))
        await self._publisher.revoke_session(principal.session_id)
        log.info("user_logged_out", user_id=principal.user_id)

    async def end_other_sessions(self, principal: Principal) -> int:
        """After a password change: every other login session of the user ends (refresh
        tokens revoked, access tokens refused, sockets disconnected everywhere), so that a
        password change locks out whoever else was signed in. Returns how many ended."""
        async with self._pool.acquire() as conn:
            families = await token_store.revoke_other_families(
                conn, uuid.UUID(principal.user_id), uuid.UUID(principal.session_id)
            )
        for family in families:
            await self._revoke_access(str(family))
            await self._publisher.revoke_session(str(family))
        log.info("other_sessions_ended", user_id=principal.user_id, count=len(families))
        return len(families)

    async def authenticate(self, token: str) -> Principal:
        """Verify an access token and that it has not been revoked."""
        claims: AccessClaims = self._codec.decode_access(token)
        if await self._blacklist.contains_any((claims.jti, _SESSION_PREFIX + claims.session_id)):
            raise InvalidToken("Token revoked")
        return Principal(
            user_id=claims.user_id,
            username=claims.username,
            session_id=claims.session_id,
            jti=claims.jti,
            expires_at=claims.expires_at,
        )

    async def purge_expired_tokens(self) -> None:
        """Housekeeping: forget refresh tokens that expired more than a day ago."""
        async with self._pool.acquire() as conn:
            await token_store.delete_expired(conn)

    async def _revoke_access(self, session_id: str) -> None:
        """Refuse every access token of a login session from now until the newest of them
        would have expired anyway."""
        until = int(time.time()) + self._codec.access_ttl_s
        await self._blacklist.add(_SESSION_PREFIX + session_id, until)

    async def _open_session(self, conn: asyncpg.Connection, user: dict[str, Any]) -> TokenPair:
        return await self._issue(conn, user, uuid.uuid4())

    async def _issue(
        self,
        conn: asyncpg.Connection,
        user: dict[str, Any],
        family_id: uuid.UUID,
        refresh: str | None = None,
    ) -> TokenPair:
        """A new pair of the session `family_id`; its refresh token (random unless given)
        is stored, hashed."""
        refresh = refresh or new_refresh_token()
        await token_store.insert_refresh_token(
            conn,
            user["id"],
            family_id,
            hash_refresh_token(refresh),
            datetime.now(UTC) + self._refresh_ttl,
        )
        return self._pair(user, family_id, refresh, self._refresh_ttl)

    async def _reissue(
        self, conn: asyncpg.Connection, user: dict[str, Any], family_id: uuid.UUID, refresh: str
    ) -> TokenPair:
        """The pair of a replay inside the grace window: the successor already stored (if
        the session was not revoked meanwhile) and a fresh access token."""
        row = await token_store.lock_refresh_token(conn, hash_refresh_token(refresh))
        if row is None or row["revoked_at"] is not None or row["family_id"] != family_id:
            # Revoked meanwhile, or rotated before successors were derived (an upgrade).
            raise InvalidToken("Invalid refresh token")
        remaining = row["expires_at"] - datetime.now(UTC)
        return self._pair(user, family_id, refresh, remaining)

    def _pair(
        self, user: dict[str, Any], family_id: uuid.UUID, refresh: str, refresh_left: timedelta
    ) -> TokenPair:
        access, _claims = self._codec.issue_access(
            str(user["id"]), user["username"], str(family_id)
        )
        return TokenPair(
            access_token=access,
            refresh_token=refresh,
            expires_in=self._codec.access_ttl_s,
            refresh_expires_in=max(0, int(refresh_left.total_seconds())),
            user=wire.user_private(user),
        )
