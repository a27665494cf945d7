"""Building real files (images with metadata, polyglots, executables) and multipart bodies
for the upload tests (issue 4)."""

from __future__ import annotations

import io
import struct
import uuid
import zipfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from PIL import ExifTags, Image, PngImagePlugin

# Markers planted in metadata and appended payloads; the served bytes must not contain them.
CAMERA = "SpyCam-9000"
JPEG_COMMENT = b"<script>alert('jpeg-comment')</script>"
PNG_TEXT = "png-text-payload <script>alert(1)</script>"
PNG_ITXT = "png-itxt-payload"
GIF_COMMENT = b"<script>alert('gif-comment')</script>"
HTML_PAYLOAD = b"<html><body><script>alert('polyglot')</script></body></html>"

EXIF_ORIENTATION = 0x0112
EXIF_MAKE = 0x010F
# Orientation 6: the camera was rotated; viewers turn the image 90 degrees clockwise.
ROTATE_90_CW = 6


def jpeg_with_exif(size: tuple[int, int] = (40, 20), *, orientation: int | None = None) -> bytes:
    """A JPEG carrying EXIF (camera make, GPS position, optionally an orientation) and a
    comment segment."""
    img = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[EXIF_MAKE] = CAMERA
    if orientation is not None:
        exif[EXIF_ORIENTATION] = orientation
    exif[ExifTags.IFD.GPSInfo] = {
        1: "N",
        2: (48.0, 51.0, 29.0),
        3: "E",
        4: (2.0, 17.0, 40.0),
    }
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif, comment=JPEG_COMMENT, quality=95)
    data = out.getvalue()
    # The fixture really carries what the server must strip.
    check = Image.open(io.BytesIO(data))
    assert check.getexif().get_ifd(ExifTags.IFD.GPSInfo), "fixture JPEG lost its GPS data"
    assert CAMERA.encode() in data and JPEG_COMMENT in data
    return data


def png_with_text(size: tuple[int, int] = (30, 24)) -> bytes:
    """An RGBA PNG with tEXt and iTXt chunks."""
    img = Image.new("RGBA", size, (10, 20, 250, 128))
    img.putpixel((0, 0), (255, 255, 0, 255))
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PNG_TEXT)
    info.add_itxt("Author", PNG_ITXT)
    out = io.BytesIO()
    img.save(out, format="PNG", pnginfo=info)
    data = out.getvalue()
    assert b"tEXt" in data and b"iTXt" in data
    return data


def plain_png(size: tuple[int, int] = (16, 16), color: tuple[int, int, int] = (0, 128, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def plain_jpeg(size: tuple[int, int] = (16, 16)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (0, 0, 200)).save(out, format="JPEG")
    return out.getvalue()


def plain_gif(size: tuple[int, int] = (12, 10), *, comment: bytes | None = None) -> bytes:
    out = io.BytesIO()
    params = {"comment": comment} if comment else {}
    Image.new("RGB", size, (255, 128, 0)).save(out, format="GIF", **params)
    return out.getvalue()


ANIMATION_COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
ANIMATION_DURATIONS = [50, 60, 70]


def animated_gif(*, comment: bytes | None = None) -> bytes:
    """Three differently coloured frames with their own durations, looping forever."""
    frames = [Image.new("RGB", (16, 12), c) for c in ANIMATION_COLORS]
    out = io.BytesIO()
    params = {"comment": comment} if comment else {}
    frames[0].save(
        out,
        format="GIF",
        save_all=True,
        append_images=frames[1:],
        duration=ANIMATION_DURATIONS,
        loop=0,
        **params,
    )
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).n_frames == 3
    return data


def zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("payload.js", "alert('zip-payload')")
    return out.getvalue()


def minimal_pdf() -> bytes:
    return (
        b"%PDF-1.4\n"
        b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
        b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >> endobj\n"
        b"trailer << /Root 1 0 R >>\n"
        b"%%EOF\n"
    )


def elf_binary() -> bytes:
    """The start of a 64-bit x86-64 Linux executable."""
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\x00" * 8
    header = struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, 0x401000, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    return ident + header + b"\x00" * 200


def mz_binary() -> bytes:
    """The start of a Windows PE executable (DOS stub, then the PE header)."""
    dos = bytearray(b"MZ" + b"\x90\x00\x03\x00" + b"\x00" * 54)
    dos[0x3C:0x40] = struct.pack("<I", 0x80)
    stub = b"This program cannot be run in DOS mode.\r\r\n$".ljust(0x80 - len(dos), b"\x00")
    return bytes(dos) + stub + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200


def png_chunk_types(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, types = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


def jpeg_segment_markers(data: bytes) -> list[int]:
    """The markers of a JPEG's header segments (up to the start of scan)."""
    assert data[:2] == b"\xff\xd8"
    pos, markers = 2, []
    while pos < len(data):
        assert data[pos] == 0xFF, f"bad JPEG segment at {pos}"
        marker = data[pos + 1]
        markers.append(marker)
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            break
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        pos += 2 + length
    return markers


def multipart(
    filename: str | None,
    data: bytes,
    *,
    field: str = "file",
    content_type: str = "application/octet-stream",
    extra_fields: Iterable[tuple[str, str]] = (),
    encoded_name: bool = False,
) -> tuple[bytes, str]:
    """A multipart/form-data body built by hand (so names reach the server exactly as
    given); returns (body, Content-Type header). `encoded_name` sends the name as RFC 5987
    `filename*`, which can carry any character."""
    boundary = f"----test{uuid.uuid4().hex}"
    parts = []
    for name, value in extra_fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    disposition = f'form-data; name="{field}"'
    if filename is not None:
        if encoded_name:
            disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
        else:
            disposition += f'; filename="{filename}"'
    parts.append(
        f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + data
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def stored_names(upload_dir: Path) -> set[str]:
    """What the upload directory holds; asserts the temporary `.incoming` dir is empty."""
    incoming = upload_dir / ".incoming"
    if incoming.exists():
        leftovers = list(incoming.iterdir())
        assert leftovers == [], f"temporary files left behind: {leftovers}"
    if not upload_dir.exists():
        return set()
    return {p.name for p in upload_dir.iterdir() if p.name != ".incoming"}
