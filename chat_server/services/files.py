"""Uploads: images and documents, accepted only when the bytes are what the name says.

Every upload is streamed to a temporary file while it is counted and hashed, refused past
the size limit before the rest is read, sniffed from its magic bytes (never trusting the
client's Content-Type), checked against its extension and the allow-list, optionally
scanned, and for images re-encoded (which strips EXIF/GPS and breaks polyglots). The
bytes are stored under a random name outside any static root; the original name is kept
only as sanitised metadata.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import unicodedata
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import filetype
import structlog
from PIL import Image, ImageOps, ImageSequence

from chat_server.errors import NotFound, TooLarge, UnsupportedMediaType
from chat_server.services import views
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.scan import MalwareScanner
from chat_server.store import files as file_store

log = structlog.get_logger(__name__)

# Allowed types: sniffed MIME -> the extensions a file of that type may carry.
ALLOWED_TYPES: dict[str, frozenset[str]] = {
    "image/jpeg": frozenset({".jpg", ".jpeg"}),
    "image/png": frozenset({".png"}),
    "image/gif": frozenset({".gif"}),
    "application/pdf": frozenset({".pdf"}),
    "text/plain": frozenset({".txt"}),
}
IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
# Longest original name kept (characters); longer names are shortened, extension kept.
MAX_NAME_CHARS = 200
# Bytes read before deciding the type; filetype needs at most 262.
SNIFF_BYTES = 8192
# Pillow refuses images above this many pixels: a 50-KB PNG can claim 100,000 x 100,000
# pixels and exhaust memory when decoded (a decompression bomb).
MAX_IMAGE_PIXELS = 40_000_000
# Thumbnails fit in this box (CSS pixels at 2x for a 160-px chat preview).
THUMBNAIL_SIZE = (320, 320)
# Text that opens like markup is refused even as .txt: no browser sniffing it into HTML.
_MARKUP_PREFIXES = (b"<!doctype", b"<html", b"<svg", b"<script", b"<?xml", b"<body", b"<head")

Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS


@dataclass(frozen=True, slots=True)
class StoredFile:
    """Where a file's bytes are and how to serve them."""

    path: Path
    mime_type: str
    name: str
    is_image: bool


class FileService:
    """Accept uploads and decide who may read them."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        limiter: RateLimiter,
        upload_dir: Path,
        max_bytes: int,
        scanner: MalwareScanner | None = None,
    ):
        self._pool = pool
        self._limiter = limiter
        self._dir = upload_dir
        self._tmp = upload_dir / ".incoming"
        self._max = max_bytes
        self._scanner = scanner
        self._dir.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)

    @property
    def max_bytes(self) -> int:
        return self._max

    async def check_rate(self, user_id: str) -> None:
        """Count an upload against the user's limit before any byte is read."""
        await self._limiter.hit("uploads", user_id)

    async def upload(
        self, owner_id: str, filename: str, chunks: AsyncIterator[bytes]
    ) -> dict[str, Any]:
        """Store one upload; returns the public file object.

        Nothing is written to the upload directory or the database unless every check
        passes.
        """
        name = sanitize_filename(filename)
        ext = Path(name).suffix.lower()
        tmp = self._tmp / uuid.uuid4().hex
        try:
            size = await self._receive(chunks, tmp)
            if size == 0:
                raise UnsupportedMediaType("The file is empty")
            mime = await asyncio.to_thread(sniff_type, tmp)
            if mime is None or mime not in ALLOWED_TYPES:
                raise UnsupportedMediaType("Allowed types: JPEG, PNG, GIF, PDF and UTF-8 text")
            if ext not in ALLOWED_TYPES[mime]:
                raise UnsupportedMediaType(f"The file's content ({mime}) does not match its name")
            if self._scanner is not None:
                await self._scanner.check(tmp)
            stored = f"{uuid.uuid4().hex}{ext}"
            thumb = None
            width = height = None
            if mime in IMAGE_TYPES:
                thumb = f"{uuid.uuid4().hex}_thumb{'.png' if mime == 'image/png' else '.jpg'}"
                width, height = await asyncio.to_thread(
                    reencode_image, tmp, self._dir / stored, self._dir / thumb, mime
                )
            else:
                os.replace(tmp, self._dir / stored)
            final = self._dir / stored
            digest, final_size = await asyncio.to_thread(_sha256, final)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            raise
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        try:
            async with self._pool.acquire() as conn:
                row = await file_store.insert_file(
                    conn,
                    owner_id=UUID(owner_id),
                    original_name=name,
                    stored_name=stored,
                    thumbnail_name=thumb,
                    mime_type=mime,
                    size_bytes=final_size,
                    sha256=digest,
                    width=width,
                    height=height,
                )
        except BaseException:
            for leftover in (stored, thumb):
                if leftover:
                    with contextlib.suppress(FileNotFoundError):
                        (self._dir / leftover).unlink()
            raise
        log.info("file_uploaded", file_id=str(row["id"]), mime=mime, size=final_size)
        return views.file(row)

    async def _receive(self, chunks: AsyncIterator[bytes], dest: Path) -> int:
        """Write chunks to `dest`, refusing as soon as the total passes the limit."""
        size = 0
        with dest.open("wb") as fh:
            async for chunk in chunks:
                size += len(chunk)
                if size > self._max:
                    raise TooLarge(f"Files are limited to {self._max} bytes")
                fh.write(chunk)
        return size

    async def open_for(self, user_id: str, name: str) -> StoredFile:
        """The file (or thumbnail) called `name` if the user may read it; 404 otherwise."""
        async with self._pool.acquire() as conn:
            row = await file_store.get_file_by_name(conn, name)
            if row is None or not await file_store.can_read_file(conn, row["id"], UUID(user_id)):
                raise NotFound("File not found")
        is_thumb = name == row["thumbnail_name"]
        path = self._dir / name
        if not path.is_file():
            raise NotFound("File not found")
        mime = row["mime_type"]
        if is_thumb:
            mime = "image/png" if name.endswith(".png") else "image/jpeg"
        return StoredFile(
            path=path, mime_type=mime, name=row["original_name"], is_image=mime in IMAGE_TYPES
        )

    async def attachable(
        self, conn: asyncpg.Connection, owner_id: UUID, file_id: UUID
    ) -> dict[str, Any]:
        """The file row if `owner_id` uploaded it: only the uploader can attach a file."""
        row = await file_store.get_file(conn, file_id)
        if row is None or row["owner_id"] != owner_id:
            raise NotFound("File not found")
        return row


def sanitize_filename(raw: str) -> str:
    """A display-safe name: no directories, no control or format characters (e.g. the
    right-to-left override that makes `evil‮txt.exe` look like `evilexe.txt`), NFC form,
    bounded length, extension kept."""
    name = unicodedata.normalize("NFC", raw or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in name if unicodedata.category(ch)[0] not in ("C",) and ch not in "\r\n\t"
    )
    name = " ".join(name.split()).strip(" .")
    if not name:
        return "file"
    if len(name) > MAX_NAME_CHARS:
        stem, ext = os.path.splitext(name)
        ext = ext[:16]
        name = stem[: MAX_NAME_CHARS - len(ext)] + ext
    return name


def sniff_type(path: Path) -> str | None:
    """The MIME type from the file's bytes: magic numbers for binary types, and strict
    UTF-8 without NUL bytes (and not markup) for text."""
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    kind = filetype.guess(head)
    if kind is not None:
        return str(kind.mime)
    if _is_plain_text(path, head):
        return "text/plain"
    return None


def _is_plain_text(path: Path, head: bytes) -> bool:
    if head.lstrip()[:16].lower().startswith(_MARKUP_PREFIXES):
        return False
    decoder_input = path.read_bytes()
    if b"\x00" in decoder_input:
        return False
    try:
        decoder_input.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def reencode_image(src: Path, dest: Path, thumb: Path, mime: str) -> tuple[int, int]:
    """Decode and re-encode an image without its metadata; write a thumbnail.

    Re-encoding drops EXIF (GPS, camera serials), text chunks and comments, and anything
    appended to the image (polyglots). Animated GIFs keep every frame and their timing.
    """
    try:
        with Image.open(src) as img:
            if img.size[0] * img.size[1] > MAX_IMAGE_PIXELS:
                raise UnsupportedMediaType("The image has too many pixels")
            img.load()
            fmt = {"image/jpeg": "JPEG", "image/png": "PNG", "image/gif": "GIF"}[mime]
            if img.format != fmt:
                raise UnsupportedMediaType("The image is not what its header says")
            width, height = img.size
            if fmt == "GIF" and getattr(img, "is_animated", False):
                frames = [frame.copy() for frame in ImageSequence.Iterator(img)]
                durations = [f.info.get("duration", 100) for f in frames]
                frames[0].save(
                    dest,
                    format="GIF",
                    save_all=True,
                    append_images=frames[1:],
                    duration=durations,
                    loop=img.info.get("loop", 0),
                    disposal=2,
                )
                first = frames[0].convert("RGBA")
            else:
                clean = ImageOps.exif_transpose(img) if fmt == "JPEG" else img.copy()
                width, height = clean.size
                if fmt == "JPEG":
                    clean.convert("RGB").save(dest, format="JPEG", quality=90, optimize=True)
                elif fmt == "PNG":
                    clean.save(dest, format="PNG", optimize=True)
                else:
                    clean.save(dest, format="GIF")
                first = clean.convert("RGBA")
            first.thumbnail(THUMBNAIL_SIZE)
            if thumb.suffix == ".png":
                first.save(thumb, format="PNG", optimize=True)
            else:
                first.convert("RGB").save(thumb, format="JPEG", quality=85)
            return width, height
    except BaseException as exc:
        for p in (dest, thumb):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if isinstance(exc, UnsupportedMediaType):
            raise
        if isinstance(exc, Image.DecompressionBombError):
            raise UnsupportedMediaType("The image has too many pixels") from exc
        if isinstance(exc, (OSError, SyntaxError, ValueError, EOFError)):
            raise UnsupportedMediaType("The image could not be decoded") from exc
        raise


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
