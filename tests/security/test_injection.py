"""Injection and XSS: SQL metacharacters and classic payloads in every text field are
stored and returned exactly as sent; `contentHtml` only ever holds allow-listed markup;
security headers are on every response; the web UI shows hostile names as text (Chromium,
reusing tests/browser's Playwright setup)."""

from __future__ import annotations

import re
import uuid
from html.parser import HTMLParser
from typing import Any

import aiohttp
import hypothesis
import pytest
from hypothesis import HealthCheck
from hypothesis import strategies as st
from playwright.async_api import expect

from chat_server.api.openapi import OPERATIONS
from chat_server.services.render import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    ALLOWED_URL_SCHEMES,
    render_markdown,
)
from schemas.common import FORMAT_CLASS
from tests.browser.conftest import browser, message, person, sign_in_via_api  # noqa: F401
from tests.chat_helpers import api, create_room, post_dm
from tests.conftest import LOBBY_ID, PASSWORD, unique_name
from tests.uploads_helpers import plain_png

PAYLOADS = [
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    "\"; DELETE FROM messages WHERE ''='",
    "1; SELECT pg_sleep(10)--",
    "' UNION SELECT password_hash, email FROM users --",
    "$1 $2 :name %(x)s %s {0} ${x} #{x} {{7*7}}",
    "\\'; \\\\ \\x00 \\u0000",
    "admin'--",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg/onload=alert(1)>',
    "javascript:alert(1)",
    '{"$gt": ""}',
    "%00%27%22",
    "../../etc/passwd",
    "🙂 ‮evil‬ ​ zero-width",
]

FORMAT_CHARS = re.compile(f"[{FORMAT_CLASS}]")
# Refused in room descriptions (schemas/rooms.py BIDI_CONTROLS).
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def short(payload: str, limit: int) -> str:
    """The payload with a unique tail (names must be unique), within `limit` characters."""
    tail = " " + uuid.uuid4().hex[:6]
    return payload[: limit - len(tail)] + tail


async def test_payloads_in_every_text_field_round_trip_verbatim(server, http, register):
    user = await register(server)
    other = await register(server)
    for payload in PAYLOADS:
        # Display name (the profile), read back.
        status, me = await api(
            http, server, "PUT", "/api/users/me", user, json={"displayName": payload}
        )
        assert status == 200 and me["displayName"] == payload, me
        status, me = await api(http, server, "GET", "/api/users/me", user)
        assert me["displayName"] == payload
        # Room name and description, read back, found by search with the payload itself.
        # Invisible format characters (zero-width, bidi) spoof room names, and bidi
        # controls descriptions: refused there (tests/api/test_room_names.py), kept
        # verbatim everywhere else.
        visible = FORMAT_CHARS.sub("", payload)
        name = short(payload, 100)
        if visible != payload:
            status, body = await api(http, server, "POST", "/api/rooms", user, json={"name": name})
            assert status == 400 and "name" in body["error"]["fields"], body
            name = short(visible if visible.strip() else "spoof", 100)
        description = visible if BIDI_CONTROLS.search(payload) else payload
        search = description[:100]
        room = await create_room(http, server, user, name, description=description)
        status, got = await api(http, server, "GET", f"/api/rooms/{room['id']}", other)
        assert status == 200 and got["name"] == name and got["description"] == description
        status, found = await api(http, server, "GET", "/api/rooms", other, params={"search": name})
        assert status == 200 and [r["id"] for r in found["rooms"]] == [room["id"]], found
        status, found = await api(
            http, server, "GET", "/api/rooms", other, params={"search": search}
        )
        assert status == 200 and room["id"] in [r["id"] for r in found["rooms"]]
        # Message content and clientMsgId, in the room and in a DM.
        status, body = await api(
            http,
            server,
            "POST",
            f"/api/rooms/{room['id']}/messages",
            user,
            json={"content": payload, "clientMsgId": payload[:64]},
        )
        assert status == 201, body
        assert body["message"]["content"] == payload
        assert body["message"]["clientMsgId"] == payload[:64]
        status, page = await api(http, server, "GET", f"/api/rooms/{room['id']}/messages", other)
        assert [m["content"] for m in page["messages"]] == [payload]
        dm = await post_dm(http, server, user, other, payload)
        assert dm["content"] == payload
        _assert_allow_listed(body["message"]["contentHtml"])
        # The user directory's prefix search takes the payload as a plain prefix.
        status, found = await api(
            http, server, "GET", "/api/users", other, params={"search": payload[:50]}
        )
        assert status in (200, 400), found
        if status == 200:
            assert all(
                u["username"].lower().startswith(payload[:50].lower()) for u in found["users"]
            ), found
    # The tables are all still there and sane.
    status, page = await api(http, server, "GET", f"/api/rooms/{LOBBY_ID}/messages", user)
    assert status == 200
    status, me = await api(http, server, "GET", "/api/users/me", other)
    assert status == 200


async def test_payloads_in_credentials_and_ids_are_plain_failures(server, http):
    for payload in PAYLOADS:
        status, body = await api(
            http,
            server,
            "POST",
            "/api/auth/login",
            json={"email": payload, "password": payload + "xxxxxxxx"},
        )
        assert status in (400, 401), (payload, body)
        status, body = await api(
            http, server, "POST", "/api/auth/refresh", json={"refreshToken": payload}
        )
        assert status in (400, 401), (payload, body)
        name = unique_name()
        status, body = await api(
            http,
            server,
            "POST",
            "/api/auth/register",
            json={"email": f"{name}@example.test", "username": payload, "password": PASSWORD},
        )
        assert status == 400 and "username" in body["error"]["fields"], body
        async with http.get(
            f"{server.url}/api/rooms/{payload}", headers={"Authorization": "Bearer x"}
        ) as resp:
            assert resp.status in (400, 401, 404)


async def test_hostile_file_names_are_kept_as_inert_metadata(server, http, register):
    user = await register(server)
    for payload in PAYLOADS:
        form = aiohttp.FormData()
        form.add_field("file", plain_png(), filename=payload + ".png", content_type="image/png")
        async with http.post(f"{server.url}/api/upload", data=form, headers=user.headers) as r:
            body = await r.json()
        if r.status != 201:
            # Only a name whose last path segment is not .png is refused (type mismatch).
            assert r.status == 415 and "/" in payload, (payload, body)
            continue
        assert body["name"].endswith(".png") and "/" not in body["name"]
        assert not re.search(r"[\x00-\x1f\x7f\u202a-\u202e\u200b]", body["name"]), body["name"]
        # The stored name is random; the original name only appears in the download header,
        # percent-encoded.
        assert re.fullmatch(r"/api/files/[0-9a-f]{32}\.png", body["url"]), body["url"]
        async with http.get(server.url + body["url"], headers=user.headers) as resp:
            assert resp.status == 200
            disposition = resp.headers["Content-Disposition"]
            assert disposition.startswith("inline; filename*=UTF-8''")
            assert all(c not in disposition for c in '<>"\r\n;') or disposition.count(";") == 1


# -- contentHtml ------------------------------------------------------------------------


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _assert_allow_listed(html: str) -> None:
    parser = _Collector()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs:
            # The sanitiser itself adds rel and target to links (render.py).
            added = {"rel", "target"} if tag == "a" else set()
            allowed = set(ALLOWED_ATTRIBUTES.get(tag, ())) | added
            assert name in allowed, (tag, name, html)
            if name == "target":
                assert value == "_blank", (value, html)
            if name == "href":
                scheme = (value or "").split(":", 1)[0].lower() if ":" in (value or "") else ""
                assert scheme in ALLOWED_URL_SCHEMES or scheme == "", (value, html)
    # Markup that is not a tag can only be text, escaped: "<" never appears raw.
    lowered = html.lower()
    for bad in (
        "<script",
        "<iframe",
        "<style",
        "<img",
        "<svg",
        "<object",
        "<embed",
        "<form",
        "<input",
        "<details",
        "<div",
    ):
        assert bad not in lowered, (bad, html)


MARKDOWN_BITS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)",
    "[x](vbscript:msgbox)",
    "<a href='javascript:alert(1)'>a</a>",
    "<iframe src=//x>",
    "<style>*{}</style>",
    "<div style='x'>",
    "![i](https://x/y.png)",
    "**b**",
    "_e_",
    "`c`",
    "```\n<script>\n```",
    "> q",
    "- l",
    "1. n",
    "| a | b |\n|---|---|\n| <b>1</b> | 2 |",
    "<https://example.com>",
    "[ok](https://example.com 'title\" onmouseover=\"x')",
    "&lt;script&gt;",
    "&#106;avascript:alert(1)",
    "[x](&#106;avascript:alert(1))",
    "<svg><animate onbegin=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "\n",
    " ",
]
markdown_bits = st.sampled_from(MARKDOWN_BITS)


@hypothesis.settings(
    max_examples=300,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@hypothesis.given(parts=st.lists(markdown_bits | st.text(max_size=20), max_size=8))
def test_content_html_holds_only_allow_listed_markup(parts):
    _assert_allow_listed(render_markdown("".join(parts)))


async def test_content_html_over_the_api_is_allow_listed(server, http, register):
    user = await register(server)
    room = await create_room(http, server, user)
    for bit in MARKDOWN_BITS:
        if not bit.strip():
            continue
        status, body = await api(
            http, server, "POST", f"/api/rooms/{room['id']}/messages", user, json={"content": bit}
        )
        assert status == 201, body
        assert body["message"]["content"] == bit
        _assert_allow_listed(body["message"]["contentHtml"])


# -- security headers ------------------------------------------------------------------------


def _check_headers(path: str, headers: Any, production: bool) -> None:
    assert headers.get("X-Content-Type-Options") == "nosniff", path
    assert headers.get("Referrer-Policy") == "no-referrer", path
    assert headers.get("X-Frame-Options") == "DENY", path
    csp = headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in csp or "sandbox" in csp, (path, csp)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, (path, csp)
    hsts = headers.get("Strict-Transport-Security")
    assert (hsts is not None) == production, (path, hsts)
    if production:
        assert int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 15_552_000  # type: ignore[union-attr]


@pytest.mark.parametrize("production", [False, True])
async def test_security_headers_on_every_response(start_server, http, register, production):
    server = await start_server(
        **({"env": "production", "jwt_secret": "s" * 64} if production else {})
    )
    user = await register(server)
    ids = {
        "id": LOBBY_ID,
        "userId": user.id,
        "name": "0" * 32 + ".png",
        "name_vendor": "socket.io.esm.min.js",
    }
    paths = []
    for op in OPERATIONS:
        path = op.path.replace("{id}", ids["id"]).replace("{userId}", ids["userId"])
        path = path.replace("/static/vendor/{name}", "/static/vendor/" + ids["name_vendor"])
        paths.append((op.method, path.replace("{name}", ids["name"])))
    paths += [
        ("get", "/static/app.css"),
        ("get", "/static/js/main.js"),
        ("get", "/nope"),
        ("patch", "/api/rooms"),
        ("get", "/socket.io/?EIO=4&transport=polling"),
        ("get", "/static/../setup.cfg"),
    ]
    for method, path in paths:
        if path == "/api/auth/logout":
            continue
        async with http.request(
            method, server.url + path, headers=user.headers, json={} if method != "get" else None
        ) as resp:
            _check_headers(f"{method} {path} -> {resp.status}", resp.headers, production)


async def test_the_ui_has_no_inline_script_or_style(server, http):
    async with http.get(server.url + "/") as resp:
        page = await resp.text()
        csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp
    for script in re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S | re.I):
        assert not script.strip(), "inline script in index.html"
    assert not re.search(r"<script(?![^>]*\bsrc=)", page, flags=re.I)
    assert not re.search(r"\son[a-z]+\s*=", page, flags=re.I), "inline event handler"
    assert not re.search(r"\sstyle\s*=", page, flags=re.I), "inline style attribute"
    assert "<style" not in page.lower()


# -- the web UI in Chromium ----------------------------------------------------------------

UI_PAYLOADS = {
    "room name": '<img src=x onerror=alert("room")>',
    "description": '<svg/onload=alert("desc")><script>alert("d")</script>',
    "file name": "<img src=x onerror=alert(7)>.png",
    "dm": '<iframe src="javascript:alert(8)"></iframe>',
    "message": "<details open ontoggle=alert(9)>x</details>",
}


async def test_hostile_names_render_as_text_in_the_browser(server, browser):  # noqa: F811
    a, b = await browser.tab(), await browser.tab()
    mallory, victim = person("mallory"), person("victim")
    await sign_in_via_api(a, server, mallory)
    await sign_in_via_api(b, server, victim)
    req = a.context.request
    name = short(UI_PAYLOADS["room name"], 100)
    resp = await req.post(
        f"{server.url}/api/rooms", data={"name": name, "description": UI_PAYLOADS["description"]}
    )
    assert resp.status == 201, await resp.text()
    room = await resp.json()
    resp = await req.post(
        f"{server.url}/api/upload",
        multipart={
            "file": {
                "name": UI_PAYLOADS["file name"],
                "mimeType": "image/png",
                "buffer": plain_png(),
            }
        },
    )
    assert resp.status == 201, await resp.text()
    file = await resp.json()

    page = b.page
    await page.locator("#browse-btn").click()
    await page.locator("#browse-search").fill(name[:20])
    item = page.locator("#browse-list .browse-item", has_text=name)
    await expect(item).to_be_visible()
    await expect(item).to_contain_text(UI_PAYLOADS["description"])
    await item.get_by_role("button", name="Join").click()
    await expect(page.locator("#conv-title")).to_contain_text(name)

    for body in (
        {"content": UI_PAYLOADS["message"]},
        {"content": "", "messageType": "image", "fileId": file["id"]},
    ):
        resp = await req.post(f"{server.url}/api/rooms/{room['id']}/messages", data=body)
        assert resp.status == 201, await resp.text()
    resp = await req.post(
        f"{server.url}/api/direct-messages/{await _my_id(b)}", data={"content": UI_PAYLOADS["dm"]}
    )
    assert resp.status == 201, await resp.text()
    await expect(message(page, UI_PAYLOADS["message"])).to_be_visible()
    await expect(
        page.locator(
            f'#messages [title*="{file["name"][:10]}"], #messages [alt*="{file["name"][:10]}"]'
        ).first
    ).to_be_attached()
    await page.wait_for_timeout(300)
    for tab in (a, b):
        injected = await tab.page.evaluate(
            """() => document.querySelectorAll(
                 '[onerror],[onload],[ontoggle],[onclick],iframe,object,embed,svg script,'
                 + 'script:not([src]),details[open] [ontoggle]').length"""
        )
        assert injected == 0
    assert a.dialogs == [] and b.dialogs == [], (a.dialogs, b.dialogs)


async def _my_id(tab) -> str:
    resp = await tab.context.request.get(tab.page.url.split("#")[0].rstrip("/") + "/api/users/me")
    return str((await resp.json())["id"])
