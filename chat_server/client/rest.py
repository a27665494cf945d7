"""REST half of the client: one aiohttp session, the login tokens and every HTTP endpoint.

Owns: the access/refresh token pair and when to refresh it (POST /api/auth/refresh with
rotation, at most one refresh at a time), turning HTTP error bodies into
`ChatClientError`/`AuthError`, and the REST calls a bot needs (rooms with all their pages,
history, create/join/leave, upload, logout). Must not: touch the socket, the outbox or the
per-room ordering; after a refresh it only calls the `on_refreshed` hook (the facade
re-authenticates the live socket there), and when the session is over it only calls
`on_session_over`. Imports aiohttp and the standard library only.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from .errors import TOKEN_CODES, AuthError, ChatClientError

# The access token is refreshed once this fraction of its lifetime has passed, leaving the
# rest as a margin for a slow or failing refresh (15-min tokens: refreshed at 12 min).
TOKEN_REFRESH_FRACTION = 0.8
# Timeout of one REST request.
HTTP_TIMEOUT_S = 10.0
# Uploads carry up to the server's file size limit: give them longer than a JSON call.
UPLOAD_TIMEOUT_S = 120.0
# Rooms per GET /api/rooms page: the server's maximum (schemas.rooms.ROOM_LIST_MAX), so a
# user with many rooms needs few round trips on every connect.
ROOMS_PAGE_LIMIT = 200


@dataclass(slots=True)
class Tokens:
    """The current login session: tokens and when the access token should be refreshed."""

    access_token: str
    refresh_token: str
    # time.monotonic() deadlines, so wall-clock jumps do not matter.
    expires_at: float
    refresh_at: float

    @classmethod
    def create(
        cls, access_token: str, refresh_token: str, expires_in: float | None = None
    ) -> Tokens:
        """Work out the lifetime from `expiresIn` and the token's own `exp`, whichever is
        sooner: `expiresIn` is immune to clock skew, `exp` to its whole-second rounding."""
        lifetimes = [float(expires_in)] if expires_in is not None else []
        exp = jwt_claims(access_token).get("exp")
        if isinstance(exp, int | float):
            lifetimes.append(float(exp) - time.time())
        lifetime = max(min(lifetimes), 0.0) if lifetimes else 0.0
        now = time.monotonic()
        return cls(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=now + lifetime,
            refresh_at=now + lifetime * TOKEN_REFRESH_FRACTION,
        )


class RestApi:
    """HTTP calls with the current access token; refreshes it once on a 401."""

    def __init__(self, base_url: str, tokens: Tokens, http: aiohttp.ClientSession | None):
        self.base_url = base_url.rstrip("/")
        self.tokens = tokens
        self.refreshes = 0
        self.owns_http = http is None
        self._http = http
        self._refresh_lock = asyncio.Lock()
        self.on_refreshed: Callable[[], Awaitable[None]] | None = None
        self.on_session_over: Callable[[ChatClientError], None] | None = None

    def session(self) -> aiohttp.ClientSession:
        """The shared aiohttp session (also carries the socket's transport)."""
        if self._http is None:
            self._http = new_http_session()
            self.owns_http = True
        return self._http

    async def close(self) -> None:
        if self.owns_http and self._http is not None:
            await self._http.close()

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST call with the current access token; refreshes once on a 401."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self.tokens.access_token}"}
            try:
                return await request(
                    self.session(), method, self.base_url + path, headers=headers, **kwargs
                )
            except AuthError as exc:
                if attempt or exc.code not in TOKEN_CODES:
                    raise
                await self.refresh(force=True)
        raise AssertionError("unreachable")

    async def refresh(self, *, force: bool = False) -> None:
        """Exchange the refresh token for a new pair, then call `on_refreshed`.

        Without `force`, does nothing unless the token is due (so concurrent callers refresh
        once). Raises AuthError when the session is over (refresh token revoked or reused).
        """
        async with self._refresh_lock:
            if not force and time.monotonic() < self.tokens.refresh_at:
                return
            try:
                data = await request(
                    self.session(),
                    "POST",
                    self.base_url + "/api/auth/refresh",
                    json={"refreshToken": self.tokens.refresh_token},
                )
            except AuthError as exc:
                if self.on_session_over is not None:
                    self.on_session_over(exc)
                raise
            self.tokens = Tokens.create(
                data["accessToken"], data["refreshToken"], data.get("expiresIn")
            )
            self.refreshes += 1
        if self.on_refreshed is not None:
            await self.on_refreshed()

    # -- endpoints ---------------------------------------------------------------------

    async def rooms_page(
        self, cursor: str | None = None, limit: int = ROOMS_PAGE_LIMIT
    ) -> dict[str, Any]:
        """One page of GET /api/rooms: {rooms, hasMore, nextCursor}."""
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        return dict(await self.call("GET", "/api/rooms", params=params))

    async def all_rooms(self) -> list[dict[str, Any]]:
        """Every room the user can see, following `nextCursor` to the last page."""
        rooms: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self.rooms_page(cursor)
            rooms.extend(page.get("rooms", []))
            cursor = page.get("nextCursor")
            if not page.get("hasMore") or not cursor:
                return rooms

    async def create_room(
        self, name: str, *, description: str | None = None, private: bool = False
    ) -> dict[str, Any]:
        body = {"name": name, "description": description, "isPrivate": private}
        return dict(await self.call("POST", "/api/rooms", json=body))

    async def join_room(self, room_id: str) -> dict[str, Any]:
        return dict(await self.call("POST", f"/api/rooms/{room_id}/join"))

    async def leave_room(self, room_id: str) -> None:
        await self.call("DELETE", f"/api/rooms/{room_id}/leave")

    async def upload(
        self,
        file: str | Path | bytes,
        *,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> dict[str, Any]:
        """POST /api/upload (multipart field `file`) from a path or from bytes."""
        if isinstance(file, bytes):
            data, name = file, filename or "upload.bin"
        else:
            path = Path(file)
            data, name = await asyncio.to_thread(path.read_bytes), filename or path.name
        form = aiohttp.FormData()
        form.add_field("file", data, filename=name, content_type=content_type)
        timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT_S)
        return dict(await self.call("POST", "/api/upload", data=form, timeout=timeout))

    async def logout(self) -> None:
        """POST /api/auth/logout: the server revokes this session and drops its sockets."""
        await self.call("POST", "/api/auth/logout")


def new_http_session() -> aiohttp.ClientSession:
    # No session-wide timeout: the same session carries the long-lived websocket. REST calls
    # set their own (`request`), Engine.IO its own for polling.
    return aiohttp.ClientSession()


async def request(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    """One REST call: the JSON body, or ChatClientError with the server's error object."""
    kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S))
    async with session.request(method, url, **kwargs) as resp:
        try:
            body = await resp.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError):
            body = None
        if 200 <= resp.status < 300:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or f"http_{resp.status}")
        retry_after = _seconds(error.get("retryAfter") or resp.headers.get("Retry-After"))
        cls = AuthError if resp.status == 401 else ChatClientError
        raise cls(
            code,
            str(error.get("message", resp.reason or "")),
            status=resp.status,
            retry_after=retry_after,
            fields=error.get("fields"),
        )


def _seconds(value: Any) -> float | None:
    """A Retry-After value in seconds (the HTTP-date form is not used by our server)."""
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: the client only reads its own token's `exp`, `sub`
    and `name` (the server is the one that verifies)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
