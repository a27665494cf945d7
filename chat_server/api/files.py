"""/api/upload and /api/files/{name}."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from urllib.parse import quote

from aiohttp import BodyPartReader, MultipartReader, web
from aiohttp.http_exceptions import BadHttpMessage

from chat_server.api import deps
from chat_server.api.keys import SERVICES
from chat_server.errors import NotFound, TooLarge, ValidationFailed

routes = web.RouteTableDef()

# Room for multipart boundaries and part headers on top of the file itself.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
CHUNK_BYTES = 64 * 1024
# Stored names are random hex with an allowed extension; nothing else is ever looked up.
_STORED_NAME = re.compile(r"^[0-9a-f]{32}(_thumb)?\.(jpg|jpeg|png|gif|pdf|txt)$")
# Files never change once stored, but access can be revoked: browsers may cache briefly.
FILE_CACHE_CONTROL = "private, max-age=3600"
FILE_CSP = "default-src 'none'; sandbox"


@routes.post("/api/upload")
async def upload(request: web.Request) -> web.Response:
    """Multipart upload, field `file`; streamed to disk, refused past the size limit."""
    who = await deps.principal(request)
    files = request.app[SERVICES].files
    if (
        request.content_length is not None
        and request.content_length > files.max_bytes + MULTIPART_OVERHEAD_BYTES
    ):
        raise TooLarge(f"Files are limited to {files.max_bytes} bytes")
    if not request.content_type.startswith("multipart/form-data"):
        raise ValidationFailed(
            "Send the file as multipart/form-data", fields={"file": ["Missing file."]}
        )
    await files.check_rate(who.user_id)
    try:
        reader = await request.multipart()
    except ValueError as exc:  # e.g. no boundary
        raise _malformed() from exc
    part = await _next_part(reader)
    if part is None:
        raise ValidationFailed("The form has no `file` field", fields={"file": ["Missing file."]})
    if not isinstance(part, BodyPartReader) or part.name != "file":
        # The form is exactly one `file` part (what a browser's FormData sends and what the
        # OpenAPI document says): other fields would only be ignored, so they are refused.
        raise _other_field()
    result = await files.upload(who.user_id, part.filename or "", _chunks(part, reader))
    return web.json_response(result, status=201)


def _other_field() -> ValidationFailed:
    return ValidationFailed(
        "The form has a field other than `file`", fields={"file": ["Only `file` is allowed."]}
    )


def _malformed() -> ValidationFailed:
    return ValidationFailed(
        "The body is not a well-formed multipart/form-data form",
        fields={"file": ["Missing file."]},
    )


async def _next_part(reader: MultipartReader) -> BodyPartReader | MultipartReader | None:
    try:
        return await reader.next()
    except (ValueError, BadHttpMessage) as exc:
        # aiohttp's parser: no starting boundary, bad part framing, or part headers it
        # refuses (control characters in a field name are InvalidHeader, not ValueError)
        raise _malformed() from exc


async def _read(part: BodyPartReader) -> bytes:
    try:
        return await part.read_chunk(CHUNK_BYTES)
    except ValueError as exc:
        raise _malformed() from exc
    except ConnectionResetError as exc:
        # The client went away mid-upload (common on mobile): not a server error. The
        # partial file is removed by FileService; nobody is left to read this answer.
        raise ValidationFailed("The upload was interrupted") from exc


async def _chunks(part: BodyPartReader, reader: MultipartReader) -> AsyncIterator[bytes]:
    """The file part's bytes; a part that ends without its closing boundary (a truncated
    body) or is followed by another part is refused rather than stored (the service
    removes what it wrote when this raises)."""
    while chunk := await _read(part):
        yield chunk
    if not part.at_eof():
        raise _malformed()
    if await _next_part(reader) is not None:
        raise _other_field()


@routes.get("/api/files/{name}")
async def download(request: web.Request) -> web.FileResponse:
    """The file, for its uploader and whoever can read a room where it was posted; 404 for
    everyone else. Images inline, everything else as an attachment, never sniffed."""
    who = await deps.principal(request)
    name = request.match_info["name"]
    if not _STORED_NAME.match(name):
        raise NotFound("File not found")
    stored = await request.app[SERVICES].files.open_for(who.user_id, name)
    disposition = "inline" if stored.is_image else "attachment"
    # Text was checked to be UTF-8: say so, so that no browser guesses another charset.
    content_type = (
        f"{stored.mime_type}; charset=utf-8"
        if stored.mime_type == "text/plain"
        else stored.mime_type
    )
    return web.FileResponse(
        stored.path,
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(stored.name, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": FILE_CSP,
            "Cache-Control": FILE_CACHE_CONTROL,
        },
    )
