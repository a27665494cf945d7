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
import io
import os
import re
import unicodedata
import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import filetype
import structlog
from PIL import Image, ImageCms, ImageOps, ImageSequence

from chat_server.errors import NotFound, TooLarge, UnsupportedMediaType
from chat_server.services import wire
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
# An animated GIF is decoded frame by frame and every frame is held while re-encoding:
# width x height x frames is bounded too, or a 5-MB GIF of thousands of large frames
# would take gigabytes of memory.
MAX_ANIMATION_PIXELS = 64_000_000
# Thumbnails fit in this box (CSS pixels at 2x for a 160-px chat preview).
THUMBNAIL_SIZE = (320, 320)
# Text that opens like markup (after a BOM and whitespace) is refused even as .txt: no
# browser sniffing it into HTML. A doctype, comment, processing instruction or any tag.
_MARKUP_START = re.compile(rb"^<(?:!doctype|!--|\?xml|/?[a-z][a-z0-9-]*(?:[\s/>]|$))", re.I)
_UTF8_BOM = b"\xef\xbb\xbf"
# Image.info keys re-encoding may carry over: what rendering needs, never metadata
# (EXIF, XMP, ICC blobs, comments, text chunks, application extensions).
_KEEP_INFO = frozenset({"transparency", "duration"})

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
        return wire.file(row)

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
        """The file (or thumbnail) called `name` if the user may read it; 404 otherwise.

        Its owner may, and whoever may read a room where a message that still stands
        carries it: deleting the message (a tombstone drops its file, docs/contract.md
        §12) ends reading it through that room, never the owner's own access."""
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
    right-to-left override that makes `evil<U+202E>txt.exe` look like `evilexe.txt`), NFC form,
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
    UTF-8 without NUL bytes (and not markup) for text.

    Text whose first bytes happen to match a type we do not accept (`BMW ...` looks like
    a BMP, `MZ ...` like an executable) is still text: a real file of those types has
    bytes that are not valid NUL-free UTF-8.
    """
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    kind = filetype.guess(head)
    if kind is not None and kind.mime in ALLOWED_TYPES:
        return str(kind.mime)
    if _is_plain_text(path, head):
        return "text/plain"
    return str(kind.mime) if kind is not None else None


def _is_plain_text(path: Path, head: bytes) -> bool:
    start = head.removeprefix(_UTF8_BOM).lstrip()
    if _MARKUP_START.match(start[:64]):
        return False
    decoder_input = path.read_bytes()
    if b"\x00" in decoder_input:
        return False
    try:
        decoder_input.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def reencode_image(
    src: Path,
    dest: Path,
    thumb: Path,
    mime: str,
    *,
    max_animation_pixels: int = MAX_ANIMATION_PIXELS,
) -> tuple[int, int]:
    """Decode and re-encode an image without its metadata; write a thumbnail.

    Re-encoding drops EXIF (GPS, camera serials), XMP, text chunks and comments, and
    anything appended to the image (polyglots). Pixels keep their colours: an embedded
    ICC profile is applied (converted to sRGB) rather than copied. Animated GIFs keep
    every frame and their timing.
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
                frame_count = int(getattr(img, "n_frames", 1))
                if width * height * frame_count > max_animation_pixels:
                    raise UnsupportedMediaType("The animation has too many frames")
                frames = [_bare(frame.copy()) for frame in ImageSequence.Iterator(img)]
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
                if fmt == "JPEG":
                    clean = _to_srgb(ImageOps.exif_transpose(img), "RGB")
                    width, height = clean.size
                    _bare(clean, keep=()).save(dest, format="JPEG", quality=90, optimize=True)
                elif fmt == "PNG":
                    clean = _bare(_to_srgb(img.copy(), None))
                    clean.save(dest, format="PNG", optimize=True)
                else:
                    clean = _bare(img.copy())
                    clean.save(dest, format="GIF")
                first = clean.convert("RGBA")
            first = _bare(first, keep=())
            first.thumbnail(THUMBNAIL_SIZE)
            if thumb.suffix == ".png":
                first.save(thumb, format="PNG", optimize=True)
            else:
                _bare(first.convert("RGB"), keep=()).save(thumb, format="JPEG", quality=85)
            return width, height
    except BaseException as exc:
        for p in (dest, thumb):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        if isinstance(exc, UnsupportedMediaType):
            raise
        if isinstance(exc, Image.DecompressionBombError):
            raise UnsupportedMediaType("The image has too many pixels") from exc
        if isinstance(exc, Exception):
            # Pillow's decoders fail on hostile input in many ways (OSError, SyntaxError,
            # but also IndexError, struct.error...): any of them means "not an image".
            log.info("image_rejected", mime=mime, error=type(exc).__name__)
            raise UnsupportedMediaType("The image could not be decoded") from exc
        raise


def _bare(img: Image.Image, keep: Collection[str] = _KEEP_INFO) -> Image.Image:
    """`img` with every metadata entry dropped from `info`: Pillow's encoders fall back on
    `info` for comments (JPEG, GIF) and ICC profiles, so they would copy them otherwise."""
    img.info = {k: v for k, v in img.info.items() if k in keep}
    return img


_SRGB = ImageCms.createProfile("sRGB")


def _to_srgb(img: Image.Image, mode: str | None) -> Image.Image:
    """Apply an embedded ICC profile (converting to sRGB) so that dropping the profile does
    not change the colours; then convert to `mode` (None: keep the mode). Images without
    a usable profile are only converted."""
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK", "L"):
        out_mode = mode or ("RGBA" if img.mode == "RGBA" else "RGB")
        try:
            converted = ImageCms.profileToProfile(img, io.BytesIO(icc), _SRGB, outputMode=out_mode)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None
        if converted is not None:
            return converted
    if mode is not None and img.mode != mode:
        return img.convert(mode)
    return img


def _sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 16):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size
