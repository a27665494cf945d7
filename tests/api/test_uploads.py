"""POST /api/upload and GET /api/files/{name} (issue 4, docs/contract.md §5 and §9): every allowed
type accepted and served back safely, everything else refused with nothing written to the
upload directory or the database, who may read a file, files on messages, the upload
limit and the malware-scan hook."""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import struct
import tempfile
import unicodedata
import uuid
from pathlib import Path
from urllib.parse import quote

import aiohttp
import asyncpg
import pytest
from PIL import ExifTags, Image, ImageSequence

from chat_server.api.keys import CONFIG
from tests.chat_helpers import api, call, private_room_with
from tests.conftest import LOBBY_ID
from tests.uploads_helpers import (
    ANIMATION_COLORS,
    ANIMATION_DURATIONS,
    CAMERA,
    GIF_COMMENT,
    HTML_PAYLOAD,
    JPEG_COMMENT,
    PNG_ITXT,
    PNG_TEXT,
    ROTATE_90_CW,
    animated_gif,
    elf_binary,
    jpeg_segment_markers,
    jpeg_with_exif,
    minimal_pdf,
    multipart,
    mz_binary,
    plain_gif,
    plain_jpeg,
    plain_png,
    png_chunk_types,
    png_with_text,
    stored_names,
    zip_bytes,
)

STORED_URL = re.compile(r"^/api/files/[0-9a-f]{32}\.(jpg|jpeg|png|gif|pdf|txt)$")
THUMB_URL = re.compile(r"^/api/files/[0-9a-f]{32}_thumb\.(jpg|png)$")
FILE_CSP = "default-src 'none'; sandbox"
FIVE_MB = 5 * 1024 * 1024
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


# --- helpers -------------------------------------------------------------------------


async def upload(http, server, user, filename, data, **kw):
    """POST one file; returns (status, parsed body, response headers)."""
    body, content_type = multipart(filename, data, **kw)
    headers = {"Content-Type": content_type}
    if user is not None:
        headers.update(user.headers)
    async with http.post(f"{server.url}/api/upload", data=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def upload_ok(http, server, user, filename, data, **kw):
    status, body, _ = await upload(http, server, user, filename, data, **kw)
    assert status == 201, body
    return body


async def fetch(http, server, user, url, headers=None):
    """GET a file; returns (status, bytes, response headers)."""
    h = dict(user.headers) if user is not None else {}
    h.update(headers or {})
    async with http.get(f"{server.url}{url}", headers=h) as resp:
        return resp.status, await resp.read(), resp.headers


async def fetch_ok(http, server, user, url):
    status, data, headers = await fetch(http, server, user, url)
    assert status == 200, data
    return data, headers


def upload_dir(server) -> Path:
    return server.app[CONFIG].upload_dir


@pytest.fixture
async def db(database_url):
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


async def file_rows(db, user) -> list[asyncpg.Record]:
    return await db.fetch("SELECT * FROM files WHERE owner_id = $1", uuid.UUID(user.id))


async def assert_refused(http, server, db, user, filename, data, status, code, **kw):
    """The upload is refused with `status`/`code` and leaves nothing on disk or in the DB."""
    before_disk = stored_names(upload_dir(server))
    before_rows = len(await file_rows(db, user))
    got, body, _ = await upload(http, server, user, filename, data, **kw)
    assert got == status, body
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert stored_names(upload_dir(server)) == before_disk
    assert len(await file_rows(db, user)) == before_rows
    return body


def image_of(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def assert_no_metadata(data: bytes) -> None:
    img = image_of(data)
    assert dict(img.getexif()) == {}
    assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    for key in ("exif", "comment", "xmp", "XML:com.adobe.xmp", "Comment", "Author"):
        assert key not in img.info, (key, img.info)
    assert b"Exif" not in data
    assert CAMERA.encode() not in data


# --- accepted types, served back ---------------------------------------------------------


async def test_utf8_text_is_stored_and_served_byte_for_byte(server, http, register, db):
    alice = await register(server)
    text = "héllo wörld — 世界 🙂\r\nsecond line\ttab\n".encode()

    body = await upload_ok(http, server, alice, "notes.txt", text, content_type="image/png")

    assert set(body) == {"id", "url", "name", "mimeType", "size"}, body
    uuid.UUID(body["id"])
    assert STORED_URL.match(body["url"]), body
    assert body["url"].endswith(".txt")
    assert body["name"] == "notes.txt"
    # The client's Content-Type (image/png) is ignored: the bytes decide.
    assert body["mimeType"] == "text/plain"
    assert body["size"] == len(text)
    data, headers = await fetch_ok(http, server, alice, body["url"])
    assert data == text
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''notes.txt"
    # The row records owner, names, type, size and hash; the bytes sit under the random name.
    (row,) = await file_rows(db, alice)
    assert str(row["id"]) == body["id"]
    assert row["original_name"] == "notes.txt"
    assert row["stored_name"] == body["url"].rsplit("/", 1)[1]
    assert row["mime_type"] == "text/plain"
    assert row["size_bytes"] == len(text)
    assert row["sha256"] == hashlib.sha256(text).hexdigest()
    assert stored_names(upload_dir(server)) == {row["stored_name"]}
    assert (upload_dir(server) / row["stored_name"]).read_bytes() == text


async def test_pdf_is_stored_and_served_as_an_attachment(server, http, register, db):
    alice = await register(server)
    pdf = minimal_pdf()

    body = await upload_ok(http, server, alice, "Quarterly Report.PDF", pdf)

    assert set(body) == {"id", "url", "name", "mimeType", "size"}, body
    assert body["mimeType"] == "application/pdf"
    assert body["name"] == "Quarterly Report.PDF"
    assert body["size"] == len(pdf)
    assert body["url"].endswith(".pdf")
    data, headers = await fetch_ok(http, server, alice, body["url"])
    assert data == pdf
    assert headers["Content-Type"] == "application/pdf"
    assert headers["Content-Disposition"] == (
        "attachment; filename*=UTF-8''" + quote("Quarterly Report.PDF", safe="")
    )
    (row,) = await file_rows(db, alice)
    assert row["sha256"] == hashlib.sha256(pdf).hexdigest()


async def test_jpeg_is_served_without_exif_gps_or_comments(server, http, register, db):
    alice = await register(server)
    original = jpeg_with_exif((40, 20), orientation=ROTATE_90_CW)

    body = await upload_ok(http, server, alice, "holiday.JPG", original)

    assert body["mimeType"] == "image/jpeg"
    assert body["url"].endswith(".jpg")
    # The EXIF orientation is applied to the pixels before it is dropped.
    assert (body["width"], body["height"]) == (20, 40)
    assert THUMB_URL.match(body["thumbnailUrl"]), body
    data, headers = await fetch_ok(http, server, alice, body["url"])
    assert headers["Content-Type"] == "image/jpeg"
    assert headers["Content-Disposition"] == "inline; filename*=UTF-8''holiday.JPG"
    img = image_of(data)
    assert img.format == "JPEG"
    assert img.size == (20, 40)
    assert_no_metadata(data)
    assert JPEG_COMMENT not in data
    assert 0xE1 not in jpeg_segment_markers(data)  # no APP1 (EXIF / XMP)
    assert 0xFE not in jpeg_segment_markers(data)  # no COM
    # The row describes what is served.
    (row,) = await file_rows(db, alice)
    assert row["size_bytes"] == len(data) == body["size"]
    assert row["sha256"] == hashlib.sha256(data).hexdigest()
    assert (row["width"], row["height"]) == (20, 40)


async def test_png_is_served_without_text_chunks(server, http, register):
    alice = await register(server)
    original = png_with_text((30, 24))

    body = await upload_ok(http, server, alice, "diagram.png", original)

    assert body["mimeType"] == "image/png"
    assert (body["width"], body["height"]) == (30, 24)
    data, headers = await fetch_ok(http, server, alice, body["url"])
    assert headers["Content-Type"] == "image/png"
    assert headers["Content-Disposition"].startswith("inline;")
    chunks = png_chunk_types(data)
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf", b"tIME"):
        assert chunk not in chunks, chunks
    assert PNG_TEXT.encode() not in data and PNG_ITXT.encode() not in data
    img = image_of(data)
    assert img.format == "PNG" and img.size == (30, 24)
    # The pixels (alpha included) survive.
    assert img.convert("RGBA").getpixel((0, 0)) == (255, 255, 0, 255)
    assert img.convert("RGBA").getpixel((5, 5)) == (10, 20, 250, 128)
    assert_no_metadata(data)


async def test_gif_is_accepted_without_its_comment(server, http, register):
    alice = await register(server)

    body = await upload_ok(http, server, alice, "dot.gif", plain_gif(comment=GIF_COMMENT))

    assert body["mimeType"] == "image/gif"
    assert (body["width"], body["height"]) == (12, 10)
    data, headers = await fetch_ok(http, server, alice, body["url"])
    assert headers["Content-Type"] == "image/gif"
    img = image_of(data)
    assert img.format == "GIF" and img.size == (12, 10)
    assert GIF_COMMENT not in data
    assert "comment" not in img.info


async def test_animated_gif_keeps_its_frames_and_timing(server, http, register):
    alice = await register(server)

    body = await upload_ok(http, server, alice, "party.gif", animated_gif(comment=GIF_COMMENT))

    assert (body["width"], body["height"]) == (16, 12)
    data, _ = await fetch_ok(http, server, alice, body["url"])
    img = Image.open(io.BytesIO(data))
    assert img.format == "GIF"
    assert img.n_frames == len(ANIMATION_COLORS)
    assert img.info.get("loop") == 0
    frames = [
        (frame.info["duration"], frame.convert("RGB").getpixel((3, 3)))
        for frame in ImageSequence.Iterator(img)
    ]
    assert frames == list(zip(ANIMATION_DURATIONS, ANIMATION_COLORS, strict=True))
    assert GIF_COMMENT not in data


async def test_thumbnails_are_served_and_fit_the_box(server, http, register):
    alice = await register(server)
    big = plain_png((800, 400), (10, 200, 10))

    body = await upload_ok(http, server, alice, "wide.png", big)

    assert (body["width"], body["height"]) == (800, 400)
    data, headers = await fetch_ok(http, server, alice, body["thumbnailUrl"])
    assert headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == FILE_CSP
    assert headers["Content-Disposition"].startswith("inline;")
    thumb = image_of(data)
    assert thumb.size == (320, 160)
    assert thumb.convert("RGB").getpixel((100, 80)) == (10, 200, 10)

    for name, data in (("photo.jpg", jpeg_with_exif()), ("anim.gif", animated_gif())):
        body = await upload_ok(http, server, alice, name, data)
        thumb_bytes, headers = await fetch_ok(http, server, alice, body["thumbnailUrl"])
        assert headers["Content-Type"] == "image/jpeg"
        thumb = image_of(thumb_bytes)
        assert thumb.format == "JPEG"
        assert_no_metadata(thumb_bytes)


async def test_served_files_carry_the_safety_and_caching_headers(server, http, register):
    alice = await register(server)
    text = b"0123456789abcdefghij\n"
    doc = await upload_ok(http, server, alice, "digits.txt", text)
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())

    for item, disposition in ((doc, "attachment"), (pic, "inline")):
        status, _, headers = await fetch(http, server, alice, item["url"])
        assert status == 200
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Content-Security-Policy"] == FILE_CSP
        assert headers["Content-Disposition"].split(";")[0] == disposition
        assert headers["ETag"]
        assert "private" in headers["Cache-Control"]
        assert headers["Accept-Ranges"] == "bytes"

    # A range request gets 206 and just those bytes.
    status, data, headers = await fetch(http, server, alice, doc["url"], {"Range": "bytes=2-5"})
    assert status == 206
    assert data == text[2:6]
    assert headers["Content-Range"] == f"bytes 2-5/{len(text)}"
    assert headers["X-Content-Type-Options"] == "nosniff"
    # A revalidation with the ETag gets 304 and no body.
    _, _, headers = await fetch(http, server, alice, doc["url"])
    status, data, _ = await fetch(
        http, server, alice, doc["url"], {"If-None-Match": headers["ETag"]}
    )
    assert status == 304
    assert data == b""


async def test_a_browser_img_tag_authenticates_with_the_cookie(server, register):
    alice = await register(server)
    async with aiohttp.ClientSession() as http:
        pic = await upload_ok(http, server, alice, "pic.png", plain_png())
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:
        async with browser.get(
            f"{server.url}{pic['url']}", headers={"Cookie": f"chat_access={alice.access_token}"}
        ) as resp:
            assert resp.status == 200
            assert image_of(await resp.read()).format == "PNG"
        async with browser.get(f"{server.url}{pic['url']}") as resp:
            assert resp.status == 401


# --- refused uploads: the right status, nothing stored ----------------------------------


REFUSED_TYPES = [
    pytest.param("image.pdf", plain_png(), id="png-renamed-pdf"),
    pytest.param("photo.png", plain_jpeg(), id="jpeg-renamed-png"),
    pytest.param("report.txt", minimal_pdf(), id="pdf-renamed-txt"),
    pytest.param("cat.png", elf_binary(), id="elf-renamed-png"),
    pytest.param("cat.png", mz_binary(), id="mz-renamed-png"),
    pytest.param("readme.txt", mz_binary(), id="mz-renamed-txt"),
    pytest.param("setup.exe", mz_binary(), id="exe"),
    pytest.param("page.html", b"<!DOCTYPE html><html><script>alert(1)</script></html>", id="html"),
    pytest.param(
        "logo.svg",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect/></svg>',
        id="svg",
    ),
    pytest.param("page.txt", b"<!DOCTYPE html><html><body>hi</body></html>", id="html-as-txt"),
    pytest.param("page.txt", b"\n\n  <script>alert(document.cookie)</script>", id="script-as-txt"),
    pytest.param("page.txt", b"\xef\xbb\xbf<html><script>alert(1)</script>", id="bom-html-as-txt"),
    pytest.param("page.txt", b"<iframe src=javascript:alert(1)></iframe>", id="iframe-as-txt"),
    pytest.param("page.txt", b"<!-- x --><img src=x onerror=alert(1)>", id="comment-as-txt"),
    pytest.param(
        "logo.txt",
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
        id="svg-as-txt",
    ),
    pytest.param("latin1.txt", "café".encode("latin-1"), id="not-utf8"),
    pytest.param("nul.txt", b"hello\x00world", id="text-with-nul"),
    pytest.param("utf16.txt", "hello".encode("utf-16"), id="utf16"),
    pytest.param("empty.txt", b"", id="zero-bytes-txt"),
    pytest.param("empty.png", b"", id="zero-bytes-png"),
    pytest.param("passwd", b"root:x:0:0:root:/root:/bin/sh\n", id="no-extension"),
    pytest.param("photo.png.exe", plain_png(), id="double-extension"),
    pytest.param("archive.zip", zip_bytes(), id="zip"),
    pytest.param("archive.txt", zip_bytes(), id="zip-renamed-txt"),
    # A GIF header followed by markup is not an image: it cannot be decoded.
    pytest.param("xss.gif", b"GIF89a/*\x00\x00*/=1;" + HTML_PAYLOAD, id="gif-header-then-html"),
    pytest.param("broken.png", plain_png()[:40], id="truncated-png"),
    pytest.param("broken.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, id="jpeg-magic-only"),
]


@pytest.mark.parametrize(("filename", "data"), REFUSED_TYPES)
async def test_disallowed_or_mismatched_content_is_refused(
    server, http, register, db, filename, data
):
    alice = await register(server)
    await assert_refused(http, server, db, alice, filename, data, 415, "unsupported_media_type")


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
async def test_an_image_bomb_is_refused(server, http, register, db):
    alice = await register(server)
    out = io.BytesIO()
    Image.new("1", (10_000, 5_000)).save(out, format="PNG")  # 50 Mpx in a few KB
    await assert_refused(
        http, server, db, alice, "bomb.png", out.getvalue(), 415, "unsupported_media_type"
    )


async def test_a_file_over_five_mb_is_refused(server, http, register, db):
    alice = await register(server)
    await assert_refused(http, server, db, alice, "big.txt", b"a" * (FIVE_MB + 1), 413, "too_large")


async def test_exactly_the_limit_is_accepted_and_one_byte_more_is_not(
    start_server, http, register, db
):
    server = await start_server(upload_max_bytes=1000)
    alice = await register(server)
    body = await upload_ok(http, server, alice, "ok.txt", b"b" * 1000)
    assert body["size"] == 1000
    await assert_refused(http, server, db, alice, "big.txt", b"b" * 1001, 413, "too_large")
    # A declared Content-Length far past the limit is refused from the header alone.
    await assert_refused(http, server, db, alice, "huge.txt", b"b" * 200_000, 413, "too_large")


async def test_a_chunked_upload_is_refused_before_the_whole_body_is_sent(
    start_server, http, register, db
):
    """No Content-Length: the server counts while streaming and answers 413 while the
    client is still sending (the client waits for that answer before sending more).

    The multipart parser reads up to two 64-KB chunks ahead (to find the boundary), so
    the client sends a few hundred KB before it waits: a fraction of the 2-MB body."""
    server = await start_server(upload_max_bytes=1000)
    alice = await register(server)
    body, content_type = multipart("stream.txt", b"c" * 2_000_000)
    answered = asyncio.Event()
    sent = 0
    gave_up_waiting = False

    async def slow_body():
        nonlocal sent, gave_up_waiting
        for i in range(0, len(body), 4096):
            if sent > 300_000:
                # Well past the limit: stop until the server answers. A server that only
                # answered once the body was complete would not answer while we wait.
                try:
                    await asyncio.wait_for(answered.wait(), 30)
                except TimeoutError:
                    gave_up_waiting = True
                return
            sent += len(body[i : i + 4096])
            yield body[i : i + 4096]

    headers = {**alice.headers, "Content-Type": content_type}
    async with http.post(f"{server.url}/api/upload", data=slow_body(), headers=headers) as resp:
        assert not gave_up_waiting, "the server answered only after the body ended"
        answered.set()
        assert "Content-Length" not in resp.request_info.headers
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "too_large"
    assert sent < len(body)
    assert stored_names(upload_dir(server)) == set()
    assert await file_rows(db, alice) == []


async def eventually(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def test_a_client_that_disconnects_mid_upload_leaves_nothing(server, register, db):
    alice = await register(server)
    incoming = upload_dir(server) / ".incoming"
    body, content_type = multipart("big.txt", b"d" * 3_000_000)
    port = int(server.url.rsplit(":", 1)[1])
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        (
            "POST /api/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {alice.access_token}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body[:1_000_000]
    )
    await writer.drain()
    # The server is streaming the upload into its temporary file...
    await eventually(lambda: any(incoming.iterdir()), "the upload to start")
    # ...when the client goes away.
    writer.close()
    await eventually(lambda: not any(incoming.iterdir()), "the temporary file to go")
    assert stored_names(upload_dir(server)) == set()
    assert await file_rows(db, alice) == []


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\x.txt", "x.txt"),
        ("/absolute/path/notes.txt", "notes.txt"),
        ("C:\\Users\\me\\notes.txt", "notes.txt"),
        ("a\x00b\x1b[31mc\r\nd\x7f.txt", "ab[31mcd.txt"),
        ("report\u202efdp.txt", "reportfdp.txt"),
        ("zero\u200bwidth\ufeff.txt", "zerowidth.txt"),
        ("cafe\u0301.txt", "caf\u00e9.txt"),
        ("  spaced   out  .txt", "spaced out .txt"),
    ],
)
async def test_names_are_sanitised_and_bytes_stored_under_a_random_name(
    server, http, register, db, tmp_path, raw, expected
):
    alice = await register(server)
    body = await upload_ok(http, server, alice, raw, b"content\n", encoded_name=True)

    assert body["name"] == expected
    assert STORED_URL.match(body["url"]), body
    stored = body["url"].rsplit("/", 1)[1]
    assert stored_names(upload_dir(server)) == {stored}
    # Nothing escaped the upload directory.
    assert not (tmp_path / "etc").exists()
    assert not (tmp_path / "x.txt").exists()
    (row,) = await file_rows(db, alice)
    assert row["original_name"] == expected
    _, headers = await fetch_ok(http, server, alice, body["url"])
    assert headers["Content-Disposition"] == "attachment; filename*=UTF-8''" + quote(
        expected, safe=""
    )


async def test_a_very_long_name_is_shortened_keeping_its_extension(server, http, register):
    alice = await register(server)
    body = await upload_ok(http, server, alice, "é" * 1000 + ".txt", b"x", encoded_name=True)
    assert body["name"].endswith(".txt")
    assert 5 <= len(body["name"]) <= 200
    assert set(body["name"][:-4]) == {"é"}


async def test_a_plain_quoted_filename_with_a_path_is_sanitised(server, http, register):
    alice = await register(server)
    body = await upload_ok(http, server, alice, "../../../tmp/evil.txt", b"x")
    assert body["name"] == "evil.txt"


async def test_control_characters_never_reach_the_stored_name(server, http, register):
    alice = await register(server)
    raw = "".join(chr(c) for c in range(32)) + "ok\u202e\u2066\u0085.txt"
    body = await upload_ok(http, server, alice, raw, b"x", encoded_name=True)
    assert body["name"] == "ok.txt"
    assert not any(unicodedata.category(ch).startswith("C") for ch in body["name"])


async def test_a_path_without_an_allowed_extension_is_refused(server, http, register, db, tmp_path):
    alice = await register(server)
    await assert_refused(
        http,
        server,
        db,
        alice,
        "../../etc/passwd",
        b"root:x:0:0\n",
        415,
        "unsupported_media_type",
        encoded_name=True,
    )
    assert not (tmp_path / "etc").exists()


# --- malformed requests ------------------------------------------------------------------


async def test_a_form_without_a_file_field_is_refused(server, http, register, db):
    alice = await register(server)
    body = await assert_refused(
        http, server, db, alice, "a.txt", b"hello", 400, "validation_error", field="attachment"
    )
    assert "file" in body["error"]["fields"]
    # A form with only plain fields.
    before = stored_names(upload_dir(server))
    form, content_type = multipart(None, b"hello", field="note", extra_fields=[("caption", "hi")])
    async with http.post(
        f"{server.url}/api/upload",
        data=form,
        headers={**alice.headers, "Content-Type": content_type},
    ) as resp:
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "validation_error"
    assert stored_names(upload_dir(server)) == before
    assert await file_rows(db, alice) == []


@pytest.mark.parametrize(
    "extra",
    [[("caption", "x")], [("caption", "x"), ("roomId", "y")], [("padding", "p" * 100_000)]],
)
async def test_fields_before_the_file_are_refused(server, http, register, db, extra):
    """The form is exactly one `file` part, as the OpenAPI document says (additional
    properties: false): another field is refused before anything is read or stored."""
    alice = await register(server)
    body = await assert_refused(
        http, server, db, alice, "a.txt", b"hello", 400, "validation_error", extra_fields=extra
    )
    assert "file" in body["error"]["fields"]


async def test_a_field_after_the_file_is_refused_and_nothing_is_stored(server, http, register, db):
    alice = await register(server)
    form, content_type = multipart("a.txt", b"hello", content_type="text/plain")
    # Another part after the file, before the closing boundary.
    boundary = content_type.split("boundary=")[1]
    closing = f"--{boundary}--\r\n".encode()
    assert form.endswith(closing)
    form = (
        form[: -len(closing)]
        + f'--{boundary}\r\nContent-Disposition: form-data; name="caption"\r\n\r\nx\r\n'.encode()
        + closing
    )
    before = stored_names(upload_dir(server))
    async with http.post(
        f"{server.url}/api/upload",
        data=form,
        headers={**alice.headers, "Content-Type": content_type},
    ) as resp:
        assert resp.status == 400, await resp.text()
        body = await resp.json()
    assert body["error"]["code"] == "validation_error"
    assert "file" in body["error"]["fields"]
    assert stored_names(upload_dir(server)) == before
    assert await file_rows(db, alice) == []


@pytest.mark.parametrize(
    ("content_type", "data"),
    [
        pytest.param("application/json", b'{"file": "aGVsbG8="}', id="json"),
        pytest.param("text/plain", b"hello", id="text"),
        pytest.param("application/octet-stream", plain_png(), id="raw-bytes"),
        pytest.param("multipart/form-data", b"--x\r\n\r\nhello\r\n--x--\r\n", id="no-boundary"),
        pytest.param(
            "multipart/form-data; boundary=abc",
            b"not a multipart body at all",
            id="garbage-multipart",
        ),
        pytest.param(
            "multipart/form-data; boundary=abc",
            b'--abc\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhel',
            id="truncated-multipart",
        ),
    ],
)
async def test_a_body_that_is_not_a_multipart_form_is_refused(
    server, http, register, db, content_type, data
):
    alice = await register(server)
    async with http.post(
        f"{server.url}/api/upload",
        data=data,
        headers={**alice.headers, "Content-Type": content_type},
    ) as resp:
        assert resp.status == 400, await resp.text()
        assert (await resp.json())["error"]["code"] == "validation_error"
    assert stored_names(upload_dir(server)) == set()
    assert await file_rows(db, alice) == []


async def test_an_unauthenticated_upload_is_refused(server, db):
    before = await db.fetchval("SELECT count(*) FROM files")
    body, content_type = multipart("a.txt", b"hello")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as anon:
        for auth in (None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"):
            headers = {"Content-Type": content_type}
            if auth:
                headers["Authorization"] = auth
            async with anon.post(f"{server.url}/api/upload", data=body, headers=headers) as resp:
                assert resp.status == 401
                assert (await resp.json())["error"]["code"] in {"unauthenticated", "invalid_token"}
    assert stored_names(upload_dir(server)) == set()
    assert await db.fetchval("SELECT count(*) FROM files") == before


# --- polyglots: accepted only with the payload removed by re-encoding --------------------


@pytest.mark.parametrize(
    ("filename", "data", "payloads"),
    [
        pytest.param(
            "photo.jpg", plain_jpeg() + zip_bytes(), [b"PK\x03\x04", b"payload.js"], id="jpeg+zip"
        ),
        pytest.param(
            "photo.jpg", plain_jpeg() + HTML_PAYLOAD, [HTML_PAYLOAD, b"<script"], id="jpeg+html"
        ),
        pytest.param(
            "dot.gif", plain_gif() + HTML_PAYLOAD, [HTML_PAYLOAD, b"<script"], id="gif+html"
        ),
        pytest.param(
            "dot.png", plain_png() + HTML_PAYLOAD, [HTML_PAYLOAD, b"<script"], id="png+html"
        ),
        pytest.param(
            "dot.png", plain_png() + zip_bytes(), [b"PK\x03\x04", b"payload.js"], id="png+zip"
        ),
        pytest.param(
            "dot.gif", plain_gif(comment=GIF_COMMENT), [GIF_COMMENT, b"<script"], id="gif-comment"
        ),
        pytest.param("photo.jpg", jpeg_with_exif(), [JPEG_COMMENT, b"<script"], id="jpeg-comment"),
    ],
)
async def test_polyglot_images_are_accepted_only_with_the_payload_removed(
    server, http, register, db, filename, data, payloads
):
    alice = await register(server)

    body = await upload_ok(http, server, alice, filename, data)

    served, _ = await fetch_ok(http, server, alice, body["url"])
    for payload in payloads:
        assert payload not in served
    assert image_of(served).format in {"JPEG", "PNG", "GIF"}
    # What is on disk is exactly what is served; no copy of the original is kept.
    (row,) = await file_rows(db, alice)
    on_disk = {n: (upload_dir(server) / n).read_bytes() for n in stored_names(upload_dir(server))}
    assert set(on_disk) == {row["stored_name"], row["thumbnail_name"]}
    assert on_disk[row["stored_name"]] == served
    for content in on_disk.values():
        for payload in payloads:
            assert payload not in content


# --- who may read a file -----------------------------------------------------------------


async def test_an_unposted_file_is_readable_only_by_its_uploader(server, http, register):
    alice = await register(server)
    bob = await register(server)
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())
    doc = await upload_ok(http, server, alice, "doc.txt", b"secret\n")

    for url in (pic["url"], pic["thumbnailUrl"], doc["url"]):
        assert (await fetch(http, server, alice, url))[0] == 200
        status, data, headers = await fetch(http, server, bob, url)
        assert status == 404
        assert b"secret" not in data
        assert "Content-Disposition" not in headers


async def test_unknown_and_malformed_file_names_are_404(server, http, register):
    alice = await register(server)
    await upload_ok(http, server, alice, "doc.txt", b"x")
    for name in (
        f"{uuid.uuid4().hex}.txt",
        f"{uuid.uuid4().hex}_thumb.jpg",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e",
        ".incoming",
        "DOC.TXT",
        f"{uuid.uuid4().hex}.html",
    ):
        status, _, _ = await fetch(http, server, alice, f"/api/files/{name}")
        assert status == 404, name


async def test_a_file_in_a_private_room_is_readable_by_members_only(server, http, register):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    room = await private_room_with(http, server, alice, bob)
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())

    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{room['id']}/messages",
        alice,
        json={"fileId": pic["id"], "messageType": "image", "content": "look"},
    )

    assert status == 201, body
    message = body["message"]
    assert message["messageType"] == "image"
    assert message["content"] == "look"
    assert message["fileId"] == pic["id"]
    assert message["file"] == pic
    for user in (alice, bob):
        for url in (pic["url"], pic["thumbnailUrl"]):
            assert (await fetch(http, server, user, url))[0] == 200
    for url in (pic["url"], pic["thumbnailUrl"]):
        assert (await fetch(http, server, carol, url))[0] == 404
    # History carries the file as well.
    status, page = await api(http, server, "GET", f"/api/rooms/{room['id']}/messages", bob)
    assert status == 200, page
    assert page["messages"][-1]["file"] == pic


async def test_a_member_who_leaves_a_private_room_loses_access(server, http, register):
    alice = await register(server)
    bob = await register(server)
    room = await private_room_with(http, server, alice, bob)
    doc = await upload_ok(http, server, alice, "doc.txt", b"plans\n")
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{room['id']}/messages",
        alice,
        json={"fileId": doc["id"], "messageType": "file"},
    )
    assert status == 201, body
    assert (await fetch(http, server, bob, doc["url"]))[0] == 200
    status, body = await api(http, server, "DELETE", f"/api/rooms/{room['id']}/leave", bob)
    assert status in (200, 204), body
    assert (await fetch(http, server, bob, doc["url"]))[0] == 404


async def test_a_file_in_a_dm_is_readable_by_the_two_participants_only(server, http, register):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    doc = await upload_ok(http, server, alice, "contract.pdf", minimal_pdf())

    status, body = await api(
        http,
        server,
        "POST",
        f"/api/direct-messages/{bob.id}",
        alice,
        json={"fileId": doc["id"], "messageType": "file", "content": "please sign"},
    )

    assert status == 201, body
    assert body["message"]["file"] == doc
    assert body["message"]["recipientId"] == bob.id
    for user in (alice, bob):
        data, _ = await fetch_ok(http, server, user, doc["url"])
        assert data == minimal_pdf()
    assert (await fetch(http, server, carol, doc["url"]))[0] == 404
    status, page = await api(http, server, "GET", f"/api/direct-messages/{alice.id}", bob)
    assert status == 200, page
    assert page["messages"][-1]["file"] == doc


async def test_a_file_posted_in_the_lobby_is_readable_by_everyone_there(server, http, register):
    alice = await register(server)
    bob = await register(server)
    pic = await upload_ok(http, server, alice, "pic.gif", plain_gif())
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{LOBBY_ID}/messages",
        alice,
        json={"fileId": pic["id"], "messageType": "image"},
    )
    assert status == 201, body
    assert body["message"]["content"] == ""
    assert (await fetch(http, server, bob, pic["url"]))[0] == 200


async def test_attaching_someone_elses_file_is_refused(server, http, register, db):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())
    room = await private_room_with(http, server, bob, carol)

    attempts = [
        ("POST", f"/api/rooms/{LOBBY_ID}/messages"),
        ("POST", f"/api/rooms/{room['id']}/messages"),
        ("POST", f"/api/direct-messages/{carol.id}"),
    ]
    for method, path in attempts:
        status, body = await api(
            http, server, method, path, bob, json={"fileId": pic["id"], "messageType": "image"}
        )
        assert status == 404, body
        assert body["error"]["code"] == "not_found"
    # A file id that does not exist at all is refused the same way.
    status, body = await api(
        http,
        server,
        "POST",
        f"/api/rooms/{LOBBY_ID}/messages",
        bob,
        json={"fileId": str(uuid.uuid4()), "messageType": "image"},
    )
    assert status == 404, body
    assert (
        await db.fetchval("SELECT count(*) FROM messages WHERE user_id = $1", uuid.UUID(bob.id))
        == 0
    )
    # Nor did the attempts grant anyone access.
    for user in (bob, carol):
        assert (await fetch(http, server, user, pic["url"]))[0] == 404


async def test_the_message_type_must_match_the_file(server, http, register, db):
    alice = await register(server)
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())
    doc = await upload_ok(http, server, alice, "doc.pdf", minimal_pdf())
    path = f"/api/rooms/{LOBBY_ID}/messages"

    # Malformed (the OpenAPI document says so): 400.
    for payload in (
        {"fileId": doc["id"]},  # defaults to text
        {"fileId": doc["id"], "messageType": "text"},
        {"messageType": "image", "content": "no file"},
        {"fileId": None, "messageType": "file", "content": "no file"},
    ):
        status, body = await api(http, server, "POST", path, alice, json=payload)
        assert status == 400, (payload, body)
        assert body["error"]["code"] == "validation_error"
    # Well formed, but not what the stored file is: 409, with the field to fix.
    for payload in (
        {"fileId": pic["id"], "messageType": "file"},
        {"fileId": doc["id"], "messageType": "image"},
    ):
        status, body = await api(http, server, "POST", path, alice, json=payload)
        assert status == 409, (payload, body)
        assert body["error"]["code"] == "conflict"
        assert "messageType" in body["error"]["fields"]
    assert (
        await db.fetchval("SELECT count(*) FROM messages WHERE user_id = $1", uuid.UUID(alice.id))
        == 0
    )


async def test_a_file_sent_over_the_socket_reaches_other_members(
    server, http, register, sio_connect
):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    room = await private_room_with(http, server, alice, bob)
    pic = await upload_ok(http, server, alice, "photo.jpg", jpeg_with_exif())
    a = await sio_connect(server, alice.access_token)
    b = await sio_connect(server, bob.access_token, events=("new_message",))

    ack = await call(
        a,
        "send_message",
        {"roomId": room["id"], "fileId": pic["id"], "messageType": "image", "content": "sunset"},
    )

    assert ack["ok"] is True, ack
    message = ack["message"]
    assert message["fileId"] == pic["id"]
    assert message["file"] == pic
    assert message["messageType"] == "image"
    got = await b.recorder.wait_for("new_message")
    assert got == [{"message": message}]
    data, _ = await fetch_ok(http, server, bob, got[0]["message"]["file"]["url"])
    assert_no_metadata(data)
    assert (await fetch(http, server, carol, pic["url"]))[0] == 404


async def test_send_dm_over_the_socket_carries_the_file(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    doc = await upload_ok(http, server, alice, "notes.txt", b"hi bob\n")
    a = await sio_connect(server, alice.access_token)
    b = await sio_connect(server, bob.access_token, events=("new_dm",))

    ack = await call(
        a, "send_dm", {"recipientId": bob.id, "fileId": doc["id"], "messageType": "file"}
    )

    assert ack["ok"] is True, ack
    got = await b.recorder.wait_for("new_dm")
    assert got[0]["message"]["file"] == doc
    data, _ = await fetch_ok(http, server, bob, doc["url"])
    assert data == b"hi bob\n"
    # Someone else's file over the socket: refused like over HTTP.
    carol = await register(server)
    c = await sio_connect(server, carol.access_token)
    ack = await call(
        c, "send_dm", {"recipientId": bob.id, "fileId": doc["id"], "messageType": "file"}
    )
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == "not_found"


# --- the upload limit ----------------------------------------------------------------------


async def test_uploads_are_rate_limited_per_user(start_server, http, register, db):
    server = await start_server(rate_limit_uploads="2/hour")
    alice = await register(server)
    bob = await register(server)
    await upload_ok(http, server, alice, "1.txt", b"one")
    await upload_ok(http, server, alice, "2.txt", b"two")
    before = stored_names(upload_dir(server))

    status, body, headers = await upload(http, server, alice, "3.txt", b"three")

    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    assert int(headers["Retry-After"]) >= 1
    assert stored_names(upload_dir(server)) == before
    assert len(await file_rows(db, alice)) == 2
    # The limit is per user.
    await upload_ok(http, server, bob, "1.txt", b"bob's")


# --- the malware-scan hook -------------------------------------------------------------------


class FakeClamd:
    """Just enough of clamd's zINSTREAM protocol: chunks of <u32 length><bytes> until a zero
    length, then `stream: OK` or `stream: Eicar-Test-Signature FOUND`, NUL-terminated."""

    def __init__(self, path: Path):
        self.path = path
        self.scanned: list[bytes] = []
        self.commands: list[bytes] = []
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._handle, path=str(self.path))

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            self.commands.append(await reader.readuntil(b"\0"))
            data = bytearray()
            while True:
                (length,) = struct.unpack(">I", await reader.readexactly(4))
                if length == 0:
                    break
                data += await reader.readexactly(length)
            self.scanned.append(bytes(data))
            if b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE" in data:
                writer.write(b"stream: Eicar-Test-Signature FOUND\0")
            else:
                writer.write(b"stream: OK\0")
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def clamd():
    # Unix socket paths are short (108 bytes): pytest's tmp_path can be too long.
    with tempfile.TemporaryDirectory(prefix="clamd", dir="/tmp") as d:
        fake = FakeClamd(Path(d) / "clamd.sock")
        await fake.start()
        yield fake
        await fake.close()


async def test_clean_files_pass_the_malware_scan(start_server, http, register, clamd):
    server = await start_server(clamd_address=str(clamd.path))
    alice = await register(server)
    text = b"a perfectly ordinary note\n"
    original = jpeg_with_exif()

    doc = await upload_ok(http, server, alice, "note.txt", text)
    pic = await upload_ok(http, server, alice, "pic.jpg", original)

    assert clamd.commands == [b"zINSTREAM\0", b"zINSTREAM\0"]
    # The bytes as uploaded are what gets scanned.
    assert clamd.scanned == [text, original]
    assert (await fetch_ok(http, server, alice, doc["url"]))[0] == text
    assert image_of((await fetch_ok(http, server, alice, pic["url"]))[0]).format == "JPEG"


async def test_an_infected_file_is_refused_and_not_stored(start_server, http, register, db, clamd):
    server = await start_server(clamd_address=str(clamd.path))
    alice = await register(server)
    await assert_refused(
        http, server, db, alice, "eicar.txt", EICAR + b"\n", 415, "unsupported_media_type"
    )
    assert clamd.scanned == [EICAR + b"\n"]


async def test_an_unreachable_scanner_fails_closed(start_server, http, register, db, tmp_path):
    server = await start_server(clamd_address=str(tmp_path / "no-clamd.sock"))
    alice = await register(server)
    await assert_refused(http, server, db, alice, "note.txt", b"hello\n", 503, "unavailable")


async def test_a_scanner_that_answers_nonsense_fails_closed(start_server, http, register, db):
    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\0")
        writer.write(b"INSTREAM size limit exceeded. ERROR\0")
        await writer.drain()
        writer.close()

    with tempfile.TemporaryDirectory(prefix="clamd", dir="/tmp") as d:
        path = Path(d) / "clamd.sock"
        fake = await asyncio.start_unix_server(broken, path=str(path))
        try:
            server = await start_server(clamd_address=str(path))
            alice = await register(server)
            await assert_refused(
                http, server, db, alice, "note.txt", b"hello\n", 503, "unavailable"
            )
        finally:
            fake.close()
            await fake.wait_closed()
