"""bcrypt hashing, run in a worker thread: one hash costs ~100-250 ms of CPU."""

from __future__ import annotations

import asyncio

import bcrypt

# bcrypt only looks at the first 72 bytes; longer passwords are refused by the schema.
BCRYPT_MAX_BYTES = 72


async def hash_password(password: str, rounds: int) -> str:
    """Hash with a fresh salt at the given cost, off the event loop."""
    pw = password.encode()
    digest = await asyncio.to_thread(bcrypt.hashpw, pw, bcrypt.gensalt(rounds))
    return digest.decode()


async def verify_password(password: str, password_hash: str) -> bool:
    """Constant-time check of a password against its stored hash, off the event loop."""
    pw = password.encode()
    if len(pw) > BCRYPT_MAX_BYTES:
        return False
    try:
        return await asyncio.to_thread(bcrypt.checkpw, pw, password_hash.encode())
    except ValueError:
        return False
