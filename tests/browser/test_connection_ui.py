"""Connection state: a server restart shows the banner and loses nothing; the session is
refreshed silently; logging out ends every tab of the session."""

from __future__ import annotations

import asyncio
import re

from playwright.async_api import expect

from chat_server.app import drain
from tests.browser.conftest import (
    free_port,
    join_new_room,
    message,
    person,
    send,
    sign_in_via_api,
    wait_online,
)


async def room_id_of(page) -> str:  # type: ignore[no-untyped-def]
    route = await page.evaluate("location.hash")
    match = re.fullmatch(r"#room/([0-9a-f-]{36})", route)
    assert match, route
    return match.group(1)


async def test_server_restart_shows_the_banner_then_recovers_with_nothing_lost(
    start_server, make_config, browser, http
):
    config = make_config(port=free_port())
    # A short shutdown timeout: close() drops the live connections instead of waiting for them.
    first = await start_server(config, shutdown_timeout=0.5)
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, first, alice)
    await sign_in_via_api(b, first, bob)
    await join_new_room(a, b, "restart")
    pa, pb = a.page, b.page
    room_id = await room_id_of(pa)
    await send(pa, "before the restart")
    await expect(message(pb, "before the restart")).to_be_visible()

    # The server goes away: both pages say so.
    await first.close()
    for page in (pa, pb):
        await expect(page.locator("#banner")).to_be_visible()
        await expect(page.locator("#banner")).to_contain_text("Reconnecting")
        await expect(page.locator("body")).to_have_attribute("data-connection", "offline")

    # Alice keeps typing: the message waits in her outbox.
    await send(pa, "written while offline")
    pending = pa.locator("#messages .msg.pending", has_text="written while offline")
    await expect(pending).to_contain_text("Waiting for connection")
    await expect(pa.locator("#banner")).to_contain_text("1 message will be sent")

    # Meanwhile Bob posts through another instance on the same database (so the pages can
    # only learn of it by syncing after they reconnect).
    side = await start_server(make_config())
    async with http.post(
        f"{side.url}/api/auth/login", json={"email": bob.email, "password": bob.password}
    ) as resp:
        token = (await resp.json())["accessToken"]
    async with http.post(
        f"{side.url}/api/rooms/{room_id}/messages",
        json={"content": "missed while away"},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 201, await resp.text()
    await side.close()

    # The server is back on the same address: banners go, the outbox is sent, gaps filled.
    second = await start_server(config)
    for page in (pa, pb):
        await wait_online(page)
        await expect(page.locator("#banner")).to_be_hidden()
        await expect(message(page, "missed while away")).to_be_visible()
        await expect(message(page, "written while offline")).to_have_count(1)
    await expect(pa.locator("#messages .msg.pending")).to_have_count(0)
    await expect(message(pa, "written while offline")).to_have_attribute(
        "data-status", re.compile("delivered|read")
    )

    # Stored exactly once, after the message Bob posted while the pages were away.
    async with http.get(
        f"{second.url}/api/rooms/{room_id}/messages",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        texts = [m["content"] for m in (await resp.json())["messages"]]
    assert texts == ["before the restart", "missed while away", "written while offline"]

    # Everything still works both ways.
    await send(pb, "all good")
    await expect(message(pa, "all good")).to_be_visible()
    # The outbox survives nothing it should not: nothing left in storage.
    assert (
        await pa.evaluate("Object.keys(localStorage).filter(k => k.startsWith('chat.outbox'))")
        == []
    )


async def test_graceful_shutdown_moves_the_page_to_the_next_instance(
    start_server, make_config, browser
):
    # SIGTERM's path: readiness fails, sockets get `server_shutdown` and are let go in a
    # trickle, new handshakes are refused while draining; the page waits and comes back.
    config = make_config(port=free_port())
    first = await start_server(config, shutdown_timeout=0.5)
    tab = await browser.tab()
    await sign_in_via_api(tab, first, person("alice"))
    await join_new_room(tab, None, "drain")
    page = tab.page
    draining = asyncio.ensure_future(drain(first.app))
    await expect(page.locator("#banner")).to_contain_text("restarting")
    await draining
    await first.close()
    await start_server(config)
    await wait_online(page)
    await expect(page.locator("#banner")).to_be_hidden()
    await send(page, "after the restart")
    await expect(message(page, "after the restart")).to_be_visible()


async def test_the_session_is_refreshed_silently(start_server, browser):
    # Four-second access tokens: the page must refresh (and re-authenticate its socket)
    # several times without the user noticing.
    server = await start_server(access_token_ttl_s=4)
    tab = await browser.tab()
    refreshes: list[int] = []
    tab.page.on(
        "response",
        lambda r: refreshes.append(r.status) if r.url.endswith("/api/auth/refresh") else None,
    )
    await sign_in_via_api(tab, server, person("alice"))
    await join_new_room(tab, None, "refresh")
    page = tab.page
    # Past two token lifetimes plus the server's grace period for an expired socket.
    await page.wait_for_timeout(10_500)
    assert len(refreshes) >= 2 and set(refreshes) == {200}, refreshes
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")
    # The socket never had to reconnect: it was re-authenticated in place.
    await expect(page.locator("body")).to_have_attribute("data-connects", "1")
    await send(page, "still here")
    await expect(message(page, "still here")).to_be_visible()
    # REST calls work with the refreshed cookie too.
    await page.reload()
    await expect(message(page, "still here")).to_be_visible()


async def test_sign_out_ends_the_session_in_every_tab(server, browser):
    first = await browser.tab()
    alice = person("alice")
    await sign_in_via_api(first, server, alice)
    # A second tab of the same browser profile shares the session cookies.
    second_page = await first.context.new_page()
    await second_page.goto(server.url)
    await wait_online(second_page)

    await first.page.locator("#logout-btn").click()
    for page in (first.page, second_page):
        await expect(page.locator("#auth-view")).to_be_visible()
        await expect(page.locator("#app")).to_be_hidden()
    await second_page.reload()
    await expect(second_page.locator("#login-form")).to_be_visible()

    # A wrong password is refused on the form; the right one signs in again (by username).
    await second_page.locator("#login-id").fill(alice.username)
    await second_page.locator("#login-password").fill("not the password")
    await second_page.locator("#login-form button[type=submit]").click()
    await expect(second_page.locator("#auth-error")).to_contain_text("Invalid")
    await second_page.locator("#login-password").fill(alice.password)
    await second_page.locator("#login-form button[type=submit]").click()
    await expect(second_page.locator("#me")).to_contain_text(alice.username)
    await wait_online(second_page)
