"""The pure parts of uploads (issue 4): name sanitising, type sniffing, image re-encoding,
and the clamd client against a tiny clamd speaking the real protocol over TCP."""

from __future__ import annotations

import asyncio
import io
import struct
import unicodedata
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms, ImageSequence

from chat_server.errors import Unavailable, UnsupportedMediaType
from chat_server.services.files import (
    MAX_NAME_CHARS,
    THUMBNAIL_SIZE,
    reencode_image,
    sanitize_filename,
    sniff_type,
)
from chat_server.services.scan import MalwareScanner
from tests.uploads_helpers import (
    CAMERA,
    GIF_COMMENT,
    JPEG_COMMENT,
    ROTATE_90_CW,
    animated_gif,
    elf_binary,
    jpeg_with_exif,
    minimal_pdf,
    mz_binary,
    plain_gif,
    plain_jpeg,
    plain_png,
    png_chunk_types,
    png_with_text,
    zip_bytes,
)

# --- sanitize_filename ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\x.txt", "x.txt"),
        ("C:\\Windows\\System32\\evil.txt", "evil.txt"),
        ("/abs/path/", "file"),
        ("dir/", "file"),
        ("", "file"),
        ("..", "file"),
        ("...", "file"),
        (" . ", "file"),
        ("notes.txt.", "notes.txt"),
        ("notes.txt . .", "notes.txt"),
        ("a\x00b.txt", "ab.txt"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("tab\there.txt", "tabhere.txt"),
        ("\x1b[31mred\x1b[0m.txt", "[31mred[0m.txt"),
        ("del\x7f\x85.txt", "del.txt"),
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("iso\u2066late\u2069.txt", "isolate.txt"),
        ("zero\u200bwidth\ufeff.txt", "zerowidth.txt"),
        ("cafe\u0301.txt", "caf\u00e9.txt"),
        ("multiple   inner \u00a0 spaces.txt", "multiple inner spaces.txt"),
        ("  padded.txt  ", "padded.txt"),
        ("日本語のファイル.txt", "日本語のファイル.txt"),
    ],
)
def test_sanitize_filename(raw, expected):
    assert sanitize_filename(raw) == expected


def test_sanitized_names_never_hold_separators_or_control_characters():
    raw = "".join(chr(c) for c in range(0x20)) + "/\\a\u202e\u2028b\u0085\ud800.txt"
    name = sanitize_filename(raw)
    assert name == "a b.txt"  # U+2028 is whitespace: collapsed to one space
    assert "/" not in name and "\\" not in name
    assert not any(unicodedata.category(ch).startswith("C") for ch in name)


def test_long_names_are_shortened_keeping_the_extension():
    name = sanitize_filename("x" * 5000 + ".jpeg")
    assert len(name) == MAX_NAME_CHARS
    assert name.endswith(".jpeg")
    name = sanitize_filename("é" * 300 + ".txt")
    assert len(name) == MAX_NAME_CHARS
    assert name == "é" * (MAX_NAME_CHARS - 4) + ".txt"


def test_sanitized_names_are_nfc():
    name = sanitize_filename("Ame\u0301lie\u0308.txt")
    assert name == unicodedata.normalize("NFC", name)
    assert name == "Amélië.txt"


# --- sniff_type ---------------------------------------------------------------------------------


def write(tmp_path: Path, data: bytes, name: str = "f") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(plain_jpeg(), "image/jpeg", id="jpeg"),
        pytest.param(plain_png(), "image/png", id="png"),
        pytest.param(plain_gif(), "image/gif", id="gif"),
        pytest.param(animated_gif(), "image/gif", id="animated-gif"),
        pytest.param(minimal_pdf(), "application/pdf", id="pdf"),
        pytest.param(b"hello\n", "text/plain", id="ascii"),
        pytest.param("grüße 世界 🙂\n".encode(), "text/plain", id="utf8"),
        pytest.param("\ufeffwith a BOM\n".encode(), "text/plain", id="utf8-bom"),
        pytest.param(b"a < b and c > d\n", "text/plain", id="angle-brackets"),
        pytest.param(b"<3 you\n", "text/plain", id="heart"),
        pytest.param(b"<<<< merge conflict\n", "text/plain", id="conflict-marker"),
        pytest.param(b"BMW and Audi\n", "text/plain", id="looks-like-bmp"),
        pytest.param(b"MZ is a prefix, not a program\n", "text/plain", id="looks-like-exe"),
        pytest.param(b"ID3 tags explained\n", "text/plain", id="looks-like-mp3"),
        pytest.param(b"x" * 8191 + "é".encode(), "text/plain", id="utf8-across-sniff-window"),
        pytest.param(b"x" * 10000 + b"\x00", None, id="nul-after-sniff-window"),
        pytest.param(b"x" * 10000 + b"\xff", None, id="bad-utf8-after-sniff-window"),
        pytest.param("café".encode("latin-1"), None, id="latin1"),
        pytest.param("hi".encode("utf-16"), None, id="utf16"),
        pytest.param(b"<!DOCTYPE html><p>x", None, id="doctype"),
        pytest.param(b"<html>", None, id="html"),
        pytest.param(b"  \n\t<HTML><BODY>", None, id="html-uppercase-indented"),
        pytest.param("\ufeff<script>alert(1)</script>".encode(), None, id="bom-script"),
        pytest.param(b"<svg onload=alert(1)>", None, id="svg"),
        pytest.param(b'<?xml version="1.0"?><x/>', None, id="xml"),
        pytest.param(b"<!-- comment -->", None, id="html-comment"),
        pytest.param(b"<iframe src=//evil>", None, id="iframe"),
        pytest.param(b"<a href=javascript:alert(1)>x</a>", None, id="anchor"),
        pytest.param(b"<img/src=x onerror=alert(1)>", None, id="img-slash"),
        pytest.param(b"</title><script>", None, id="closing-tag"),
        pytest.param(b"<b>", None, id="bare-tag"),
    ],
)
def test_sniff_type(tmp_path, data, expected):
    assert sniff_type(write(tmp_path, data)) == expected


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(elf_binary(), id="elf"),
        pytest.param(mz_binary(), id="mz"),
        pytest.param(zip_bytes(), id="zip"),
        pytest.param(b"\x1f\x8b\x08\x00" + b"\x00" * 20, id="gzip"),
    ],
)
def test_binaries_are_never_taken_for_an_allowed_type(tmp_path, data):
    from chat_server.services.files import ALLOWED_TYPES

    assert sniff_type(write(tmp_path, data)) not in ALLOWED_TYPES


# --- reencode_image -------------------------------------------------------------------------------


def reencode(tmp_path: Path, data: bytes, mime: str, **kw) -> tuple[tuple[int, int], bytes, bytes]:
    src = write(tmp_path, data, "src")
    dest, thumb = tmp_path / "out", tmp_path / ("thumb.png" if mime == "image/png" else "thumb.jpg")
    size = reencode_image(src, dest, thumb, mime, **kw)
    return size, dest.read_bytes(), thumb.read_bytes()


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def test_jpeg_loses_exif_gps_and_comments_and_is_turned_upright(tmp_path):
    size, out, thumb = reencode(
        tmp_path, jpeg_with_exif((40, 20), orientation=ROTATE_90_CW), "image/jpeg"
    )
    assert size == (20, 40)
    for data in (out, thumb):
        img = opened(data)
        assert img.format == "JPEG"
        assert dict(img.getexif()) == {}
        assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert "comment" not in img.info and "exif" not in img.info
        assert CAMERA.encode() not in data and JPEG_COMMENT not in data
    assert opened(out).size == (20, 40)


def test_png_loses_its_text_chunks(tmp_path):
    size, out, _ = reencode(tmp_path, png_with_text(), "image/png")
    assert size == (30, 24)
    chunks = png_chunk_types(out)
    assert chunks[0] == b"IHDR" and chunks[-1] == b"IEND"
    assert not {b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME", b"iCCP"} & set(chunks)


def test_an_embedded_icc_profile_is_applied_not_copied(tmp_path):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 100, 50)).save(buf, format="JPEG", icc_profile=profile)
    _, out, _ = reencode(tmp_path, buf.getvalue(), "image/jpeg")
    img = opened(out)
    assert "icc_profile" not in img.info
    assert all(abs(a - b) <= 6 for a, b in zip(img.getpixel((4, 4)), (200, 100, 50), strict=True))

    buf = io.BytesIO()
    Image.new("RGBA", (8, 8), (10, 200, 30, 90)).save(buf, format="PNG", icc_profile=profile)
    _, out, _ = reencode(tmp_path, buf.getvalue(), "image/png")
    img = opened(out)
    assert b"iCCP" not in png_chunk_types(out)
    r, g, b, a = img.convert("RGBA").getpixel((4, 4))
    assert a == 90 and abs(r - 10) <= 6 and abs(g - 200) <= 6 and abs(b - 30) <= 6


def test_a_broken_icc_profile_does_not_stop_the_upload(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (1, 2, 3)).save(buf, format="JPEG", icc_profile=b"not a profile")
    _, out, _ = reencode(tmp_path, buf.getvalue(), "image/jpeg")
    assert "icc_profile" not in opened(out).info


@pytest.mark.parametrize(
    ("mode", "fmt", "mime"),
    [
        ("L", "JPEG", "image/jpeg"),
        ("CMYK", "JPEG", "image/jpeg"),
        ("1", "PNG", "image/png"),
        ("L", "PNG", "image/png"),
        ("LA", "PNG", "image/png"),
        ("P", "PNG", "image/png"),
        ("RGBA", "PNG", "image/png"),
        ("I;16", "PNG", "image/png"),
        ("P", "GIF", "image/gif"),
        ("L", "GIF", "image/gif"),
    ],
)
def test_every_common_mode_is_reencoded(tmp_path, mode, fmt, mime):
    buf = io.BytesIO()
    Image.new(mode, (50, 30)).save(buf, format=fmt)
    size, out, thumb = reencode(tmp_path, buf.getvalue(), mime)
    assert size == (50, 30)
    assert opened(out).format == fmt
    assert opened(out).size == (50, 30)
    assert opened(thumb).size == (50, 30)


def test_transparency_survives(tmp_path):
    img = Image.new("P", (10, 10), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((0, 0), 0)
    for fmt, mime in (("PNG", "image/png"), ("GIF", "image/gif")):
        buf = io.BytesIO()
        img.save(buf, format=fmt, transparency=0)
        _, out, _ = reencode(tmp_path, buf.getvalue(), mime)
        rgba = opened(out).convert("RGBA")
        assert rgba.getpixel((0, 0))[3] == 0, fmt
        assert rgba.getpixel((5, 5)) == (255, 0, 0, 255), fmt


def test_an_animated_gif_keeps_frames_timing_and_loses_its_comment(tmp_path):
    size, out, thumb = reencode(tmp_path, animated_gif(comment=GIF_COMMENT), "image/gif")
    assert size == (16, 12)
    img = Image.open(io.BytesIO(out))
    assert img.n_frames == 3
    assert [f.info["duration"] for f in ImageSequence.Iterator(img)] == [50, 60, 70]
    assert GIF_COMMENT not in out
    assert opened(thumb).format == "JPEG"


def test_an_animation_with_too_many_pixels_in_all_is_refused(tmp_path):
    data = animated_gif()  # 16 x 12 x 3 frames = 576 pixels
    with pytest.raises(UnsupportedMediaType):
        reencode(tmp_path, data, "image/gif", max_animation_pixels=500)
    assert not (tmp_path / "out").exists() and not (tmp_path / "thumb.jpg").exists()
    size, _, _ = reencode(tmp_path, data, "image/gif", max_animation_pixels=576)
    assert size == (16, 12)


def test_thumbnails_fit_the_box_and_keep_the_aspect_ratio(tmp_path):
    size, _, thumb = reencode(tmp_path, plain_png((1000, 250)), "image/png")
    assert size == (1000, 250)
    t = opened(thumb)
    assert t.size == (THUMBNAIL_SIZE[0], 80)


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        pytest.param(plain_jpeg(), "image/png", id="jpeg-called-png"),
        pytest.param(plain_png(), "image/gif", id="png-called-gif"),
        pytest.param(plain_png()[:60], "image/png", id="truncated"),
        pytest.param(b"GIF89a" + b"<script>alert(1)</script>", "image/gif", id="gif-header-only"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 50, "image/jpeg", id="jpeg-magic-only"),
    ],
)
def test_what_does_not_decode_as_the_claimed_type_is_refused(tmp_path, data, mime):
    with pytest.raises(UnsupportedMediaType):
        reencode(tmp_path, data, mime)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


def corrupted(data: bytes, pos: int, value: int) -> bytes:
    out = bytearray(data)
    out[pos] = value
    return bytes(out)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize(
    ("pos", "value"),
    [
        pytest.param(92, 0x01, id="pillow-indexerror"),
        pytest.param(206, 0x2C, id="pillow-struct-error"),
        pytest.param(25, 0x2C, id="pillow-huge-frame"),
    ],
)
def test_a_corrupted_gif_is_refused_not_an_error(tmp_path, pos, value):
    """Single-byte corruptions that make Pillow raise IndexError / struct.error (not
    OSError): still just "not an image", never a server error."""
    with pytest.raises(UnsupportedMediaType):
        reencode(tmp_path, corrupted(animated_gif(), pos, value), "image/gif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_decompression_bomb_is_refused(tmp_path):
    buf = io.BytesIO()
    Image.new("1", (9_000, 9_000)).save(buf, format="PNG")  # 81 Mpx, a few KB
    with pytest.raises(UnsupportedMediaType):
        reencode(tmp_path, buf.getvalue(), "image/png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["src"]


# --- MalwareScanner over TCP -------------------------------------------------------------------


async def serve_clamd(reply_for) -> tuple[asyncio.AbstractServer, list[bytes]]:
    """A clamd on 127.0.0.1 answering zINSTREAM with `reply_for(data)`."""
    scanned: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readuntil(b"\0") == b"zINSTREAM\0"
        data = bytearray()
        while length := struct.unpack(">I", await reader.readexactly(4))[0]:
            data += await reader.readexactly(length)
        scanned.append(bytes(data))
        writer.write(reply_for(bytes(data)))
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0), scanned


async def test_the_scanner_speaks_instream_over_tcp(tmp_path):
    server, scanned = await serve_clamd(
        lambda d: b"stream: Eicar-Test-Signature FOUND\0" if b"EICAR" in d else b"stream: OK\0"
    )
    port = server.sockets[0].getsockname()[1]
    scanner = MalwareScanner(f"127.0.0.1:{port}")
    big = bytes(range(256)) * 1000  # several INSTREAM chunks
    try:
        await scanner.check(write(tmp_path, big, "clean"))
        with pytest.raises(UnsupportedMediaType):
            await scanner.check(write(tmp_path, b"...EICAR...", "dirty"))
    finally:
        server.close()
        await server.wait_closed()
    assert scanned == [big, b"...EICAR..."]


@pytest.mark.parametrize(
    "reply",
    [b"INSTREAM size limit exceeded. ERROR\0", b"", b"stream: OK-ish garbage\0"],
)
async def test_no_verdict_from_the_scanner_is_unavailable(tmp_path, reply):
    server, _ = await serve_clamd(lambda _: reply)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(Unavailable):
            await MalwareScanner(f"127.0.0.1:{port}").check(write(tmp_path, b"x"))
    finally:
        server.close()
        await server.wait_closed()


async def test_an_unreachable_scanner_is_unavailable(tmp_path):
    with pytest.raises(Unavailable):
        await MalwareScanner(str(tmp_path / "nothing.sock")).check(write(tmp_path, b"x"))
