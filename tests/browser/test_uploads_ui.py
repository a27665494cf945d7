"""Images inline, documents as chips, and bad files refused before anything is sent."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image
from playwright.async_api import expect

from tests.browser.conftest import join_new_room, person, sign_in_via_api


def png_bytes(width: int = 640, height: int = 400) -> bytes:
    image = Image.new("RGB", (width, height), (74, 99, 231))
    for x in range(0, width, 40):
        for y in range(0, height, 40):
            if (x + y) // 40 % 2:
                image.paste((240, 180, 60), (x, y, x + 40, y + 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# True once the image matched by the selector has really loaded (decoded, non-zero size).
LOADED = (
    "sel => { const i = document.querySelector(sel); "
    "return !!i && i.complete && i.naturalWidth > 0; }"
)


def has_upload_route(server) -> bool:  # type: ignore[no-untyped-def]
    return any(
        getattr(r.resource, "canonical", None) == "/api/upload" for r in server.app.router.routes()
    )


async def test_image_and_document_uploads(server, browser):
    if not has_upload_route(server):
        pytest.skip("POST /api/upload is not implemented yet (file uploads issue)")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    await sign_in_via_api(b, server, person("bob"))
    await join_new_room(a, b, "files")
    pa, pb = a.page, b.page

    await pa.locator("#file-input").set_input_files(
        {"name": "chart.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    for page in (pa, pb):
        image = page.locator("#messages .msg[data-seq] img.inline-image")
        await expect(image).to_be_visible()
        await expect(image).to_have_attribute("alt", "chart.png")
        # Loaded for real, with the session cookie, by both people.
        await page.wait_for_function(LOADED, arg="#messages img.inline-image")
    # Click for full size.
    await pb.locator("#messages img.inline-image").click()
    await expect(pb.locator("#lightbox")).to_be_visible()
    await pb.wait_for_function(LOADED, arg="#lightbox-img")
    assert await pb.locator("#lightbox-img").evaluate("img => img.naturalWidth") == 640
    await pb.keyboard.press("Escape")
    await expect(pb.locator("#lightbox")).to_be_hidden()

    # A document is a download chip.
    await pa.locator("#file-input").set_input_files(
        {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"meeting notes\n"}
    )
    chip = pb.locator("#messages .msg[data-seq] a.file-chip", has_text="notes.txt")
    await expect(chip).to_be_visible()
    await expect(chip).to_have_attribute("download", "notes.txt")


async def test_bad_files_are_refused_before_upload(server, browser):
    tab = await browser.tab()
    await sign_in_via_api(tab, server, person("alice"))
    await join_new_room(tab, None, "badfiles")
    page = tab.page
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if "/api/upload" in r.url else None)

    await page.locator("#file-input").set_input_files(
        {
            "name": "huge.png",
            "mimeType": "image/png",
            "buffer": b"\x89PNG" + b"0" * (5 * 1024 * 1024),
        }
    )
    await expect(page.locator("#uploads .upload.error")).to_contain_text("too large")
    await page.locator("#uploads .upload.error button").click()
    await expect(page.locator("#uploads .upload")).to_have_count(0)

    await page.locator("#file-input").set_input_files(
        {"name": "setup.exe", "mimeType": "application/octet-stream", "buffer": b"MZ\x90\x00"}
    )
    await expect(page.locator("#uploads .upload.error")).to_contain_text(
        "only JPEG, PNG, GIF, PDF and plain-text files"
    )
    assert uploads == []
    await expect(page.locator("#messages .msg")).to_have_count(0)


async def test_drop_a_file_to_upload_with_progress(server, browser):
    if not has_upload_route(server):
        pytest.skip("POST /api/upload is not implemented yet (file uploads issue)")
    tab = await browser.tab()
    await sign_in_via_api(tab, server, person("alice"))
    await join_new_room(tab, None, "drop")
    page = tab.page
    # Hold the upload in flight so its progress row can be seen.
    release = asyncio.Event()

    async def hold(route):  # type: ignore[no-untyped-def]
        await release.wait()
        await route.continue_()

    await page.route("**/api/upload", hold)
    # Synthesize a real drag-and-drop of a File onto the conversation.
    data = list(png_bytes(200, 120))
    await page.evaluate(
        """(bytes) => {
            const file = new File([new Uint8Array(bytes)], "dropped.png", {type: "image/png"});
            const dt = new DataTransfer();
            dt.items.add(file);
            const target = document.querySelector("#conversation");
            for (const type of ["dragenter", "dragover", "drop"]) {
                const init = {dataTransfer: dt, bubbles: true, cancelable: true};
                target.dispatchEvent(new DragEvent(type, init));
            }
        }""",
        data,
    )
    row = page.locator('#uploads .upload[data-name="dropped.png"]')
    await expect(row.locator("progress")).to_be_visible()
    await expect(row).to_contain_text("dropped.png")
    release.set()
    await expect(row).to_have_count(0)
    await expect(page.locator("#messages .msg[data-seq] img.inline-image")).to_be_visible()
    await expect(page.locator("#drop-overlay")).to_be_hidden()


async def test_paste_an_image_to_upload(server, browser):
    if not has_upload_route(server):
        pytest.skip("POST /api/upload is not implemented yet (file uploads issue)")
    tab = await browser.tab()
    await sign_in_via_api(tab, server, person("alice"))
    await join_new_room(tab, None, "paste")
    page = tab.page
    await page.locator("#message-input").evaluate(
        """(box, bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], "image.png", {type: "image/png"}));
            box.dispatchEvent(new ClipboardEvent("paste", {clipboardData: dt, bubbles: true}));
        }""",
        list(png_bytes(120, 80)),
    )
    image = page.locator("#messages .msg[data-seq] img.inline-image")
    await expect(image).to_have_attribute("alt", "image.png")
    await page.wait_for_function(LOADED, arg="#messages img.inline-image")
