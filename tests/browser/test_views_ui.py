"""The phone layout, and screenshots of the main views.

Screenshots go to a temporary directory on every run (so the views are exercised), and to
docs/screenshots/ when CHAT_UPDATE_SCREENSHOTS=1:

    CHAT_UPDATE_SCREENSHOTS=1 .venv/bin/python -m pytest tests/browser/test_views_ui.py
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, ImageDraw
from playwright.async_api import expect

from tests.browser.conftest import (
    SCREENSHOTS,
    Person,
    dm_item,
    join_new_room,
    message,
    person,
    room_item,
    send,
    sign_in_via_api,
)
from tests.browser.test_uploads_ui import LOADED, has_upload_route


async def shoot(page, path: Path) -> None:  # type: ignore[no-untyped-def]
    """A screenshot without transient toasts."""
    await page.evaluate("document.querySelectorAll('.toast').forEach(t => t.remove())")
    await page.screenshot(path=str(path))


def shots_dir(tmp_path: Path) -> Path:
    path = SCREENSHOTS if os.environ.get("CHAT_UPDATE_SCREENSHOTS") == "1" else tmp_path
    path.mkdir(parents=True, exist_ok=True)
    return path


def landscape() -> bytes:
    """A small picture to share: sky, sun, hills."""
    w, h = 960, 600
    image = Image.new("RGB", (w, h))
    draw = ImageDraw.Draw(image)
    for y in range(h):
        t = y / h
        draw.line([(0, y), (w, y)], fill=(int(90 + 120 * t), int(140 + 80 * t), int(235 - 40 * t)))
    draw.ellipse((650, 90, 790, 230), fill=(255, 214, 102))
    draw.polygon(
        [(0, 420), (220, 300), (430, 410), (640, 280), (960, 430), (960, 600), (0, 600)],
        fill=(76, 140, 92),
    )
    draw.polygon(
        [(0, 500), (300, 420), (620, 520), (960, 450), (960, 600), (0, 600)], fill=(52, 108, 70)
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


async def test_phone_layout(server, browser):
    tab = await browser.tab(mobile=True)
    await sign_in_via_api(tab, server, person("pat"))
    page = tab.page
    # A phone starts on the list of conversations.
    await expect(page.locator("#sidebar")).to_be_visible()
    await expect(page.locator("#conversation")).to_be_hidden()
    await room_item(page, "lobby").click()
    await expect(page.locator("#conversation")).to_be_visible()
    await expect(page.locator("#sidebar")).to_be_hidden()
    await page.locator("#back-btn").click()
    name = await join_new_room(tab, None, "phone")
    await expect(page.locator("#sidebar")).to_be_hidden()
    await send(page, "sent from a phone")
    await expect(message(page, "sent from a phone")).to_be_visible()
    # Nothing is wider than the screen.
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    box = await page.locator("#composer").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    # Members open full screen and close again; back returns to the list.
    await page.locator("#members-btn").click()
    await expect(page.locator("#members-panel")).to_be_visible()
    await page.locator("#members-close").click()
    await page.locator("#back-btn").click()
    await expect(page.locator("#sidebar")).to_be_visible()
    await expect(room_item(page, name)).to_be_visible()


async def test_screenshots_of_the_main_views(server, browser, tmp_path):
    out = shots_dir(tmp_path)
    alice = Person("alice", "alice@example.test")
    bob = Person("bob", "bob@example.test")
    carol = Person("carol", "carol@example.test")

    # The sign-in page.
    login = await browser.tab()
    await login.page.goto(server.url)
    await expect(login.page.locator("#login-form")).to_be_visible()
    await shoot(login.page, out / "login.png")

    a, b, c = await browser.tab(), await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, alice)
    await sign_in_via_api(b, server, bob)
    await sign_in_via_api(c, server, carol)
    pa, pb, pc = a.page, b.page, c.page

    # A room with a conversation in it.
    await pa.locator("#new-room-btn").click()
    await pa.locator("#create-name").fill("design-team")
    await pa.locator('#create-form input[name="description"]').fill(
        "Mockups, feedback and launch plans"
    )
    await pa.locator("#create-form button[type=submit]").click()
    await expect(pa.locator("#conv-title")).to_contain_text("design-team")
    for page in (pb, pc):
        await page.locator("#browse-btn").click()
        await page.locator("#browse-search").fill("design-team")
        await (
            page.locator("#browse-list .browse-item", has_text="design-team")
            .get_by_role("button", name="Join")
            .click()
        )
        await expect(page.locator("#conv-title")).to_contain_text("design-team")
    await send(pa, "Morning! The **new onboarding flow** is ready for review.")
    await send(pa, "Checklist:\n- copy reviewed\n- icons exported\n- `tokens.json` updated")
    await send(
        pb,
        "Looks great. One question about the [spec](https://example.com/spec) - "
        "are we keeping the dark theme?",
    )
    await send(pc, "Yes, both themes ship. I'll post the palette in a minute.")
    if has_upload_route(server):
        await pc.locator("#file-input").set_input_files(
            {"name": "hills.jpg", "mimeType": "image/jpeg", "buffer": landscape()}
        )
        await expect(pa.locator("#messages img.inline-image")).to_be_visible()
        await pa.wait_for_function(LOADED, arg="#messages img.inline-image")
        await pb.locator("#file-input").set_input_files(
            {
                "name": "release-notes.txt",
                "mimeType": "text/plain",
                "buffer": b"v2.4\n- onboarding\n",
            }
        )
        await expect(pa.locator("#messages a.file-chip")).to_be_visible()
    await send(pa, "Perfect, thanks both :)")
    await expect(message(pa, "Perfect, thanks both")).to_have_attribute("data-status", "read")
    await pb.locator("#message-input").fill("Shipping")
    await expect(pa.locator("#typing")).to_contain_text("bob is typing")
    await pa.locator("#members-btn").click()
    await expect(pa.locator("#member-list .member")).to_have_count(3)
    await pa.wait_for_timeout(300)
    await shoot(pa, out / "room.png")
    await pa.locator("#members-close").click()

    # A direct conversation, read by the other side.
    await pb.locator("#message-input").fill("")
    await pa.locator("#new-dm-btn").click()
    await pa.locator("#picker-search").fill("bob")
    await pa.locator('#picker-list .member[data-username="bob"] button').click()
    await send(pa, "Do you have 10 minutes for the launch checklist today?")
    await dm_item(pb, "alice").click()
    await send(pb, "Sure - after lunch?")
    await send(pa, "Works for me. I'll book a room.")
    await expect(message(pa, "book a room")).to_have_attribute("data-status", "read")
    await send(pc, "The palette is in the Figma file now.")
    await expect(room_item(pa, "design-team").locator(".badge")).to_have_text("1")
    await pa.wait_for_timeout(300)
    await shoot(pa, out / "dm.png")

    # The same person on a phone: the list, then a conversation.
    phone = await browser.tab(mobile=True)
    await sign_in_via_api(phone, server, alice, register=False)
    pp = phone.page
    await expect(pp.locator("#sidebar")).to_be_visible()
    await expect(room_item(pp, "design-team").locator(".badge")).to_have_text("1")
    await shoot(pp, out / "mobile-list.png")
    await room_item(pp, "design-team").click()
    await expect(message(pp, "Perfect, thanks both")).to_be_visible()
    if has_upload_route(server):
        await pp.wait_for_function(LOADED, arg="#messages img.inline-image")
    await pp.wait_for_timeout(300)
    await shoot(pp, out / "mobile.png")

    for name in ("login", "room", "dm", "mobile-list", "mobile"):
        assert (out / f"{name}.png").stat().st_size > 10_000
