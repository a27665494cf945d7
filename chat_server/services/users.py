"""A user's own profile."""

from __future__ import annotations

from typing import Any

import asyncpg

from chat_server.errors import NotFound, ValidationFailed
from chat_server.services import passwords, views
from chat_server.store import users as user_store


class UserService:
    def __init__(self, pool: asyncpg.Pool, *, bcrypt_rounds: int):
        self._pool = pool
        self._rounds = bcrypt_rounds

    async def get_me(self, user_id: str) -> dict[str, Any]:
        async with self._pool.acquire() as conn:
            user = await user_store.get_user(conn, user_id)
        if user is None:
            raise NotFound("User not found")
        return views.user_private(user)

    async def update_me(self, user_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Change username, email, display name or password (the last needs the current one)."""
        new_hash = None
        if "password" in changes:
            async with self._pool.acquire() as conn:
                current = await user_store.get_password_hash(conn, user_id)
            if current is None or not await passwords.verify_password(
                changes.get("current_password", ""), current
            ):
                raise ValidationFailed(
                    "Current password is wrong", fields={"currentPassword": ["Does not match."]}
                )
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
        return views.user_private(user)
