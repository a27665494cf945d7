"""Nothing a user writes runs as code in another user's browser."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import join_new_room, message, person, send, sign_in_via_api

PAYLOADS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    '<a href="javascript:alert(3)">html link</a>',
    "<svg onload=alert(4)>",
    '"><iframe src="javascript:alert(5)"></iframe>',
]


async def test_html_and_script_in_messages_stay_text(server, browser):
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, person("mallory"))
    await sign_in_via_api(b, server, person("victim"))
    await join_new_room(a, b, "xss")
    for payload in PAYLOADS:
        await send(a.page, payload)
    await send(a.page, "[x](javascript:alert(6)) and [ok](https://example.com/page)")
    await send(a.page, "![pic](https://example.com/track.png)")

    for tab in (a, b):
        page = tab.page
        for payload in PAYLOADS:
            # Shown literally, as the text it is.
            await expect(message(page, payload)).to_be_visible()
        bad = message(page, "and ok")
        await expect(bad).to_be_visible()
        # The javascript: link survives only as harmless text.
        await expect(bad).to_contain_text("[x](javascript:alert(6))")
        await expect(bad.locator("a")).to_have_count(1)
        await bad.get_by_text("[x](javascript:alert(6))").click()
        # A real link is a link, opened safely in a new tab.
        ok_link = bad.locator("a", has_text="ok")
        await expect(ok_link).to_have_attribute("href", "https://example.com/page")
        await expect(ok_link).to_have_attribute("target", "_blank")
        await expect(ok_link).to_have_attribute("rel", "noopener noreferrer nofollow")
        # Markdown images are never rendered as images (no request leaves for a
        # third-party URL): the text or a plain link is shown instead.
        await expect(message(page, "pic")).to_be_visible()
        # No element was made from message content: no img, script, iframe, svg in messages.
        for tag in ("img", "script", "iframe", "svg image", "object", "embed"):
            await expect(page.locator(f"#messages .text {tag}")).to_have_count(0)
        assert (
            await page.locator("#messages .text [onerror], #messages .text [onload]").count() == 0
        )
        assert await page.locator('#messages .text [href^="javascript"]').count() == 0

    # Reloaded from history (REST, not the socket) it is the same.
    await b.page.reload()
    await expect(message(b.page, PAYLOADS[0])).to_be_visible()
    await expect(b.page.locator("#messages .text img")).to_have_count(0)
    await b.page.wait_for_timeout(300)
    assert a.dialogs == [] and b.dialogs == [], (a.dialogs, b.dialogs)


async def test_the_page_is_served_with_a_strict_csp(server, browser):
    tab = await browser.tab()
    response = await tab.page.goto(server.url)
    assert response is not None and response.ok
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    # The socket client comes from the app itself (npm package), never a CDN.
    vendor = await tab.page.request.get(f"{server.url}/static/vendor/socket.io.esm.min.js")
    assert vendor.ok and vendor.headers["content-type"].startswith("text/javascript")
    missing = await tab.page.request.get(f"{server.url}/static/vendor/../../app.py")
    assert missing.status == 404
