"""A user's own profile."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Forbidden, NotFound, ValidationFailed
from chat_server.services import passwords, wire
from chat_server.services.presence import PresenceService
from chat_server.store import users as user_store


class UserService:
    """Profiles: one's own (private fields included) and other people's (public fields)."""

    def __init__(
        self, pool: asyncpg.Pool, *, bcrypt_rounds: int, presence: PresenceService | None = None
    ):
        self._pool = pool
        self._rounds = bcrypt_rounds
        self._presence = presence

    async def search(self, prefix: str, limit: int) -> list[dict[str, Any]]:
        """People whose username starts with `prefix`, with online status: to start a DM or
        invite someone. Usernames are public (they sign every lobby message)."""
        async with self._pool.acquire() as conn:
            rows = await user_store.search_users(conn, prefix, limit)
        online = (
            await self._presence.online(str(r["id"]) for r in rows) if self._presence else set()
        )
        return [{**wire.user_public(r), "online": str(r["id"]) in online} for r in rows]

    async def get_user(self, user_id: UUID) -> dict[str, Any]:
        """Another user's public profile."""
        async with self._pool.acquire() as conn:
            user = await user_store.get_user(conn, user_id)
        if user is None:
            raise NotFound("User not found")
        online = await self._presence.online([str(user_id)]) if self._presence else set()
        return {**wire.user_public(user), "online": str(user_id) in online}

    async def get_me(self, user_id: str) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            user = await user_store.get_user(conn, user_id)
        if user is None:
            raise NotFound("User not found")
        return wire.user_private(user)

    async def update_me(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change username, email, display name or password.

        A new password or email needs the current password (a stolen access token must not
        take the account over); a given `current_password` is always checked, before
        anything else, so a taken email (409) is only told to whoever knows the password.
        """
        if ("password" in changes or "email" in changes) and "current_password" not in changes:
            raise ValidationFailed(
                "Changing the password or email needs the current password",
                fields={"currentPassword": ["Required to change the password or email."]},
            )
        if "current_password" in changes:
            async with self._pool.acquire() as conn:
                current = await user_store.get_password_hash(conn, user_id)
            if current is None or not await passwords.verify_password(
                changes["current_password"], current
            ):
                # Well formed but not allowed (not 401: the session itself is fine).
                raise Forbidden(
                    "Current password is wrong", fields={"currentPassword": ["Does not match."]}
                )
        new_hash = None
        if "password" in changes:
            new_hash = await passwords.hash_password(changes["password"], self._rounds)
        display_name = changes.get("display_name")
        async with self._pool.acquire() as conn, conn.transaction():
            user = await user_store.update_profile(
                conn,
                user_id,
                username=changes.get("username"),
                email=changes.get("email"),
                display_name=display_name or None,
                clear_display_name="display_name" in changes and not display_name,
            )
            if user is None:
                raise NotFound("User not found")
            if new_hash is not None:
                await user_store.set_password_hash(conn, user_id, new_hash)
        return wire.user_private(user)
