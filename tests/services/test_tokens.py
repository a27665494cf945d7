"""TokenCodec: signature, algorithm pinning, expiry, claims; the blacklist in AuthService."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import asyncpg
import jwt
import pytest
import redis.asyncio as aioredis

from chat_server.errors import InvalidToken, TokenExpired
from chat_server.events import NullPublisher
from chat_server.services.auth import AuthService
from chat_server.services.blacklist import MemoryBlacklist, RedisBlacklist
from chat_server.services.tokens import TokenCodec, hash_refresh_token, new_refresh_token
from tests.conftest import REDIS_URL

SECRET = "unit-test-secret-" + "s" * 60
USER_ID = "3f8e4a52-6c1b-4b7e-9a51-0d3c5e7f9a11"
SESSION_ID = "8a1d2c3b-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def codec() -> TokenCodec:
    return TokenCodec(SECRET, 900)


def claims(**overrides):
    now = int(time.time())
    data = {
        "sub": USER_ID,
        "name": "alice",
        "sid": SESSION_ID,
        "jti": uuid.uuid4().hex,
        "type": "access",
        "iat": now,
        "nbf": now,
        "exp": now + 900,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_made(
    header: dict, payload: dict, key: bytes = SECRET.encode(), digest=hashlib.sha256
) -> str:
    """A JWT assembled by hand, signed with HMAC over whatever header we choose."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    sig = hmac.new(key, signing_input.encode(), digest).digest()
    return f"{signing_input}.{b64(sig)}"


def test_round_trip(codec):
    token, issued = codec.issue_access(USER_ID, "alice", SESSION_ID)
    decoded = codec.decode_access(token)
    assert decoded == issued
    assert decoded.user_id == USER_ID
    assert decoded.username == "alice"
    assert decoded.session_id == SESSION_ID
    assert decoded.expires_at == issued.expires_at
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256"
    body = jwt.decode(token, options={"verify_signature": False})
    for claim in ("exp", "iat", "jti", "type", "sub", "sid"):
        assert claim in body


def test_every_token_has_a_fresh_jti(codec):
    a, ca = codec.issue_access(USER_ID, "alice", SESSION_ID)
    b, cb = codec.issue_access(USER_ID, "alice", SESSION_ID)
    assert ca.jti != cb.jti
    assert a != b


def test_expired_token_is_refused_with_token_expired(codec):
    expired = TokenCodec(SECRET, -120)
    token, _ = expired.issue_access(USER_ID, "alice", SESSION_ID)
    with pytest.raises(TokenExpired) as info:
        codec.decode_access(token)
    assert info.value.code == "token_expired"
    assert isinstance(info.value, InvalidToken)
    assert info.value.status == 401


def test_hand_made_expired_token(codec):
    now = int(time.time())
    token = jwt.encode(
        claims(iat=now - 3600, nbf=now - 3600, exp=now - 60), SECRET, algorithm="HS256"
    )
    with pytest.raises(TokenExpired):
        codec.decode_access(token)


def test_tampered_payload_is_refused(codec):
    token, _ = codec.issue_access(USER_ID, "alice", SESSION_ID)
    header, payload, sig = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body["sub"] = str(uuid.uuid4())  # impersonate someone else
    forged = f"{header}.{b64(json.dumps(body).encode())}.{sig}"
    with pytest.raises(InvalidToken) as info:
        codec.decode_access(forged)
    assert info.value.code == "invalid_token"


def test_tampered_signature_is_refused(codec):
    token, _ = codec.issue_access(USER_ID, "alice", SESSION_ID)
    header, payload, sig = token.split(".")
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for bad in (f"{header}.{payload}.{flipped}", f"{header}.{payload}.", f"{header}.{payload}"):
        with pytest.raises(InvalidToken):
            codec.decode_access(bad)


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "not a token at all", "." * 3])
def test_garbage_is_refused(codec, garbage):
    with pytest.raises(InvalidToken):
        codec.decode_access(garbage)


def test_wrong_secret_is_refused(codec):
    other = TokenCodec("another-secret-" + "o" * 40, 900)
    token, _ = other.issue_access(USER_ID, "alice", SESSION_ID)
    with pytest.raises(InvalidToken):
        codec.decode_access(token)


def test_alg_none_is_refused(codec):
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    unsigned = f"{header}.{b64(json.dumps(claims()).encode())}."
    with pytest.raises(InvalidToken):
        codec.decode_access(unsigned)
    # Also as PyJWT itself would produce it.
    token = jwt.encode(claims(), None, algorithm="none")
    with pytest.raises(InvalidToken):
        codec.decode_access(token)


def test_other_hmac_algorithm_with_the_right_secret_is_refused(codec):
    """HS512 with our own secret is a valid signature, but the algorithm is pinned."""
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    assert jwt.decode(token, SECRET, algorithms=["HS512"])["sub"] == USER_ID  # really valid
    with pytest.raises(InvalidToken):
        codec.decode_access(token)
    hs384 = hand_made({"alg": "HS384", "typ": "JWT"}, claims(), digest=hashlib.sha384)
    with pytest.raises(InvalidToken):
        codec.decode_access(hs384)


def test_rs256_header_with_hmac_signature_is_refused(codec):
    """Key confusion: an RS256 header whose 'signature' is an HMAC with our secret."""
    token = hand_made({"alg": "RS256", "typ": "JWT"}, claims())
    with pytest.raises(InvalidToken):
        codec.decode_access(token)


def test_hand_made_hs256_token_is_accepted(codec):
    """Control for the two tests above: the same construction with HS256 passes."""
    token = hand_made({"alg": "HS256", "typ": "JWT"}, claims())
    assert codec.decode_access(token).user_id == USER_ID


@pytest.mark.parametrize("token_type", ["refresh", "ACCESS", "", 1])
def test_wrong_type_claim_is_refused(codec, token_type):
    token = jwt.encode(claims(type=token_type), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        codec.decode_access(token)


@pytest.mark.parametrize("missing", ["exp", "iat", "jti", "sub", "type", "sid"])
def test_missing_required_claim_is_refused(codec, missing):
    data = claims()
    del data[missing]
    token = jwt.encode(data, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        codec.decode_access(token)


def test_subject_must_be_a_uuid(codec):
    token = jwt.encode(claims(sub="admin"), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        codec.decode_access(token)


def test_token_not_yet_valid_is_refused(codec):
    now = int(time.time())
    token = jwt.encode(
        claims(nbf=now + 3600, iat=now + 3600, exp=now + 7200), SECRET, algorithm="HS256"
    )
    with pytest.raises(InvalidToken):
        codec.decode_access(token)


def test_codec_requires_a_secret():
    with pytest.raises(ValueError):
        TokenCodec("", 900)


def test_refresh_tokens_are_random_and_stored_hashed():
    a, b = new_refresh_token(), new_refresh_token()
    assert a != b
    assert len(a) >= 40
    assert hash_refresh_token(a) == hash_refresh_token(a)
    assert hash_refresh_token(a) != hash_refresh_token(b)
    assert a not in hash_refresh_token(a)
    assert len(hash_refresh_token(a)) == 64


@pytest.fixture
async def pool(database_url):
    p = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    yield p
    await p.close()


def make_auth(pool, codec, blacklist) -> AuthService:
    return AuthService(
        pool, codec, blacklist, NullPublisher(), bcrypt_rounds=10, refresh_ttl_s=3600
    )


async def test_blacklisted_token_is_refused_by_authenticate(pool, codec):
    auth = make_auth(pool, codec, MemoryBlacklist())
    token, _ = codec.issue_access(USER_ID, "alice", SESSION_ID)
    sibling, _ = codec.issue_access(USER_ID, "alice", SESSION_ID)
    other, _ = codec.issue_access(USER_ID, "alice", str(uuid.uuid4()))
    who = await auth.authenticate(token)
    assert who.user_id == USER_ID
    assert who.session_id == SESSION_ID
    await auth.logout(who)
    with pytest.raises(InvalidToken) as info:
        await auth.authenticate(token)
    assert info.value.message == "Token revoked"
    # Logout ends the whole login session: its other access tokens die too...
    with pytest.raises(InvalidToken):
        await auth.authenticate(sibling)
    # ...while another session of the same user is unaffected.
    assert (await auth.authenticate(other)).jti != who.jti


async def test_logout_revokes_the_session_on_the_publisher(pool, codec):
    publisher = NullPublisher()
    auth = AuthService(
        pool, codec, MemoryBlacklist(), publisher, bcrypt_rounds=10, refresh_ttl_s=3600
    )
    token, _ = codec.issue_access(USER_ID, "alice", SESSION_ID)
    await auth.logout(await auth.authenticate(token))
    assert publisher.revoked == [SESSION_ID]


async def test_redis_blacklist_is_shared_between_services(pool, codec):
    """Two instances with their own Redis clients: a logout on one is seen by the other."""
    r1 = aioredis.from_url(REDIS_URL)
    r2 = aioredis.from_url(REDIS_URL)
    try:
        a = make_auth(pool, codec, RedisBlacklist(r1))
        b = make_auth(pool, codec, RedisBlacklist(r2))
        # A fresh session: Redis keeps revoked sessions across test runs.
        token, claims_ = codec.issue_access(USER_ID, "alice", str(uuid.uuid4()))
        await b.authenticate(token)
        await a.logout(await a.authenticate(token))
        with pytest.raises(InvalidToken):
            await b.authenticate(token)
        ttl = await r2.ttl("chat:blacklist:" + claims_.jti)
        assert 0 < ttl <= 900 + 1  # kept only as long as the token could be used
    finally:
        await r1.aclose()
        await r2.aclose()


async def test_memory_blacklist_forgets_expired_entries():
    bl = MemoryBlacklist()
    await bl.add("old", int(time.time()) - 10)
    await bl.add("new", int(time.time()) + 100)
    assert not await bl.contains("old")
    assert await bl.contains("new")
    assert not await bl.contains("never")


def test_the_successor_of_a_refresh_token_is_fixed_unguessable_and_well_formed():
    """Replays inside the grace window get the same successor (issue 14 #10): it is derived
    from the spent token under the server secret, in the format of a random token."""
    codec = TokenCodec("s" * 40, 900)
    spent = new_refresh_token()
    successor = codec.successor_refresh_token(spent)
    assert successor == codec.successor_refresh_token(spent)
    assert len(successor) == len(spent) == 43
    assert base64.urlsafe_b64decode(successor + "=")  # URL-safe base64, 256 bits
    assert successor not in (spent, codec.successor_refresh_token(new_refresh_token()))
    assert TokenCodec("t" * 40, 900).successor_refresh_token(spent) != successor
    assert hash_refresh_token(successor) != hash_refresh_token(spent)
