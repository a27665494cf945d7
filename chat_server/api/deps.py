"""Helpers every view uses: the caller's identity, client IP, JSON bodies, cookies."""

from __future__ import annotations

import functools
import ipaddress
from typing import Any

from aiohttp import web
from marshmallow import Schema

from chat_server.api.keys import CONFIG, SERVICES
from chat_server.config import Config
from chat_server.errors import Forbidden, Unauthenticated, ValidationFailed
from chat_server.services.auth import Principal, TokenPair
from schemas import load

ACCESS_COOKIE = "chat_access"
REFRESH_COOKIE = "chat_refresh"
# The refresh cookie is only ever sent to the auth endpoints.
REFRESH_COOKIE_PATH = "/api/auth"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PRINCIPAL_KEY = web.RequestKey("principal", Principal)


async def principal(request: web.Request) -> Principal:
    """The authenticated caller, from the Bearer header or the browser's access cookie.

    Cookie-authenticated requests that change state must come from an allowed Origin
    (CSRF defence on top of SameSite).
    """
    cached: Principal | None = request.get(PRINCIPAL_KEY)
    if cached is not None:
        return cached
    header = request.headers.get("Authorization", "")
    token = None
    from_cookie = False
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated("Authorization header must be 'Bearer <token>'")
        token = value.strip()
    elif ACCESS_COOKIE in request.cookies:
        token = request.cookies[ACCESS_COOKIE]
        from_cookie = True
    if not token:
        raise Unauthenticated()
    if from_cookie and request.method not in SAFE_METHODS:
        check_origin(request)
    who = await request.app[SERVICES].auth.authenticate(token)
    request[PRINCIPAL_KEY] = who
    return who


def check_origin(request: web.Request) -> None:
    """Refuse a cross-site request that rides on cookies: Origin must be ours or allowed."""
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if referer is None:
            # Non-browser clients send neither; browsers always send Origin on POST/PUT/DELETE.
            return
        origin = "/".join(referer.split("/", 3)[:3])
    config: Config = request.app[CONFIG]
    own = f"{request.scheme}://{request.host}"
    if origin == own or origin in config.cors_origins:
        return
    raise Forbidden("Cross-site request refused")


def client_ip(request: web.Request) -> str:
    """The caller's IP, as the rate limits count it.

    X-Forwarded-For is believed only from a trusted proxy (TRUSTED_PROXIES, addresses or
    CIDR networks). Its entries, across every header line in order (a client can send a
    line of its own before the one a proxy adds), are walked from the right: trusted
    proxies are skipped and the first address that is not one is the client. Whatever is
    left of it was written by the client and is ignored. An entry that is no IP address
    cannot have come from a proxy we trust: the walk stops and the trusted hop next to it
    is taken. When every hop is trusted the left-most one is the client.
    """
    peer = request.remote or "unknown"
    config: Config = request.app[CONFIG]
    trusted = _trusted_networks(config.trusted_proxies)
    client = _parse_ip(peer)
    if client is None or not _is_trusted(client, trusted):
        return peer
    hops = [
        hop.strip()
        for line in request.headers.getall("X-Forwarded-For", ())
        for hop in line.split(",")
    ]
    for hop in reversed(hops):
        address = _parse_ip(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, trusted):
            break
    return str(client)


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _parse_ip(text: str) -> IPAddress | None:
    """An address, IPv4-mapped IPv6 ones as IPv4 (a dual-stack socket reports those)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=8)
def _trusted_networks(entries: frozenset[str]) -> tuple[IPNetwork, ...]:
    """TRUSTED_PROXIES as networks (a plain address is a /32 or /128); parsed once."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            # config.py refuses these at start; a hand-made Config may still hold one.
            continue
    return tuple(networks)


def _is_trusted(address: IPAddress, trusted: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in trusted)


async def json_body(request: web.Request, schema: Schema) -> dict[str, Any]:
    """The request's JSON body validated by `schema`."""
    if not request.body_exists:
        return load(schema, {})
    try:
        data = await request.json()
    except (ValueError, RecursionError) as exc:
        # RecursionError: the stdlib parser gives up on deeply nested arrays ("[[[[...").
        raise ValidationFailed("Request body is not valid JSON") from exc
    return load(schema, data)


def query(request: web.Request, schema: Schema) -> dict[str, Any]:
    return load(schema, dict(request.query))


def path(request: web.Request, schema: Schema) -> dict[str, Any]:
    return load(schema, dict(request.match_info))


def set_session_cookies(
    response: web.StreamResponse, request: web.Request, pair: TokenPair
) -> None:
    """httpOnly cookies for the browser UI: JavaScript never sees the tokens."""
    config: Config = request.app[CONFIG]
    response.set_cookie(
        ACCESS_COOKIE,
        pair.access_token,
        max_age=pair.expires_in,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=config.production,
    )
    response.set_cookie(
        REFRESH_COOKIE,
        pair.refresh_token,
        max_age=pair.refresh_expires_in,
        path=REFRESH_COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=config.production,
    )


def clear_session_cookies(response: web.StreamResponse) -> None:
    response.del_cookie(ACCESS_COOKIE, path="/")
    response.del_cookie(REFRESH_COOKIE, path=REFRESH_COOKIE_PATH)
