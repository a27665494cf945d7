"""Password hashing: bcrypt with a real cost, never on the event loop."""

from __future__ import annotations

import asyncio

import bcrypt
import pytest

from chat_server.config import DEFAULT_BCRYPT_ROUNDS
from chat_server.services.passwords import BCRYPT_MAX_BYTES, hash_password, verify_password


async def test_hash_and_verify_round_trip():
    digest = await hash_password("correct horse battery", 10)
    assert digest != "correct horse battery"
    assert "correct horse battery" not in digest
    assert await verify_password("correct horse battery", digest) is True


async def test_wrong_password_is_refused():
    digest = await hash_password("correct horse battery", 10)
    assert await verify_password("correct horse batterY", digest) is False
    assert await verify_password("", digest) is False
    assert await verify_password("correct horse battery ", digest) is False


async def test_same_password_gets_a_fresh_salt():
    a = await hash_password("same password", 10)
    b = await hash_password("same password", 10)
    assert a != b
    assert await verify_password("same password", a)
    assert await verify_password("same password", b)


@pytest.mark.parametrize("rounds", [10, 11])
async def test_cost_is_recorded_in_the_hash(rounds):
    digest = await hash_password("correct horse battery", rounds)
    prefix, cost, _ = digest.lstrip("$").split("$")
    assert prefix in ("2b", "2a", "2y")
    assert int(cost) == rounds
    assert int(cost) >= 10


def test_default_cost_is_at_least_ten():
    assert DEFAULT_BCRYPT_ROUNDS >= 10


async def test_unicode_password_round_trip():
    pw = "pässwörd-密码-🔑"
    digest = await hash_password(pw, 10)
    assert await verify_password(pw, digest)
    assert not await verify_password("passwörd-密码-🔑", digest)


async def test_72_byte_password_works_and_73_bytes_is_refused():
    pw72 = "é" * 36  # 72 bytes in UTF-8
    assert len(pw72.encode()) == BCRYPT_MAX_BYTES == 72
    digest = await hash_password(pw72, 10)
    assert await verify_password(pw72, digest)
    # bcrypt looks only at 72 bytes: an old bcrypt would accept this as the same password.
    assert await verify_password(pw72 + "x", digest) is False
    assert await verify_password("a" * 200, digest) is False


async def test_verify_against_a_hash_of_72_bytes_prefix_is_false():
    digest = bcrypt.hashpw(b"a" * 72, bcrypt.gensalt(10)).decode()
    assert await verify_password("a" * 72, digest) is True
    assert await verify_password("a" * 73, digest) is False


@pytest.mark.parametrize("bad_hash", ["", "not-a-bcrypt-hash", "$2b$10$short"])
async def test_corrupt_stored_hash_verifies_false(bad_hash):
    assert await verify_password("correct horse battery", bad_hash) is False


async def test_hashing_does_not_block_the_event_loop():
    """Another coroutine keeps running while a hash is computed.

    If bcrypt ran on the loop, the hash task would finish in one step, before the loop
    could come back to this coroutine even once.
    """
    task = asyncio.ensure_future(hash_password("correct horse battery", 11))
    turns = 0
    while not task.done():
        await asyncio.sleep(0)
        turns += 1
    assert await verify_password("correct horse battery", task.result())
    assert turns > 10


async def test_verifying_does_not_block_the_event_loop():
    digest = await hash_password("correct horse battery", 11)
    task = asyncio.ensure_future(verify_password("correct horse battery", digest))
    turns = 0
    while not task.done():
        await asyncio.sleep(0)
        turns += 1
    assert task.result() is True
    assert turns > 10


async def test_concurrent_hashes_all_verify():
    pws = [f"password-{i}" for i in range(4)]
    digests = await asyncio.gather(*(hash_password(p, 10) for p in pws))
    for pw, digest in zip(pws, digests, strict=True):
        assert await verify_password(pw, digest)
