"""What a newcomer hit in the web UI (issue 15 item 6), two people in Chromium, desktop
and phone: one test per defect, each failing before its fix."""

from __future__ import annotations

import re
import uuid

from playwright.async_api import Page, expect

from chat_server.services import presence
from tests.browser.conftest import (
    join_new_room,
    message,
    person,
    room_item,
    send,
    sign_in_via_api,
)

# Three tall messages (many lines each) make any conversation list scroll.
TALL_LINES = 15


async def room_id_of(page: Page) -> str:
    route = await page.evaluate("location.hash")
    match = re.fullmatch(r"#room/([0-9a-f-]{36})", route)
    assert match, route
    return match.group(1)


async def test_lobby_member_count_follows_a_newcomer(server, browser, monkeypatch):
    # The lobby of a whole test run can outgrow the presence broadcast limit; this test is
    # about the page, so the limit must not hide the newcomer's arrival from it.
    monkeypatch.setattr(presence, "PRESENCE_MAX_ROOM_MEMBERS", 1_000_000)
    a = await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    pa = a.page
    await room_item(pa, "lobby").click()
    sub = pa.locator("#conv-sub")
    await expect(sub).to_contain_text("member")
    found = re.search(r"(\d+) members?", await sub.inner_text())
    assert found
    before = int(found.group(1))

    # Someone signs up: everyone already in the lobby sees the count move.
    await sign_in_via_api(await browser.tab(), server, person("newbie"))
    await expect(sub).to_contain_text(f"{before + 1} members")


async def test_shift_enter_is_one_line_break_not_a_blank_line(server, browser):
    a = await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    pa = a.page
    await join_new_room(a, None, "lines")
    box = pa.locator("#message-input")
    await box.type("line one")
    await box.press("Shift+Enter")
    await box.type("line two")
    await box.press("Enter")
    text = message(pa, "line one").locator(".text")
    await expect(text).to_be_visible()
    # innerText follows the CSS: a <br> plus a preserved newline would be a blank line.
    assert await text.inner_text() == "line one\nline two"


async def test_upload_errors_do_not_hide_the_newest_message(server, browser):
    a = await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    pa = a.page
    await join_new_room(a, None, "errors")
    room_id = await room_id_of(pa)
    for i in range(3):
        content = "\n".join(f"tall {i} line {n}" for n in range(TALL_LINES))
        resp = await a.context.request.post(
            f"{server.url}/api/rooms/{room_id}/messages",
            data={"content": content, "clientMsgId": str(uuid.uuid4())},
        )
        assert resp.ok, await resp.text()
    await send(pa, "the newest one")
    newest = message(pa, "the newest one")
    await expect(newest).to_be_in_viewport()

    # Six refused files (wrong type): their errors must not push the newest message away.
    files = [
        {"name": f"tool{i}.exe", "mimeType": "application/octet-stream", "buffer": b"MZ"}
        for i in range(6)
    ]
    await pa.locator("#file-input").set_input_files(files)
    await expect(pa.locator("#uploads .upload.error")).to_have_count(6)
    await expect(newest).to_be_in_viewport()
    # ...and the newest error is the one in sight.
    await expect(pa.locator("#uploads .upload.error").last).to_be_in_viewport()


async def test_a_signed_out_page_load_makes_no_failing_requests(server, browser):
    tab = await browser.tab()
    page = tab.page
    console_errors: list[str] = []
    refused: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
    await page.goto(server.url)
    await expect(page.locator("#login-form")).to_be_visible()
    await page.reload()
    await expect(page.locator("#login-form")).to_be_visible()
    assert refused == []
    assert console_errors == []


async def test_new_messages_divider_above_the_first_unread(server, browser):
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, alice)
    await sign_in_via_api(b, server, bob)
    pa, pb = a.page, b.page
    name = await join_new_room(a, b, "unread")
    await send(pa, "already seen")
    await expect(message(pb, "already seen")).to_be_visible()
    # Bob has read it (Alice sees his read receipt) before he looks elsewhere.
    await expect(message(pa, "already seen")).to_have_attribute("data-status", "read")
    # Nothing unread, no divider.
    await expect(pb.locator("#messages .new-divider")).to_have_count(0)

    await room_item(pb, "lobby").click()
    await send(pa, "first unread")
    await send(pa, "second unread")
    await expect(room_item(pb, name).locator(".badge")).to_have_text("2")
    await room_item(pb, name).click()
    await expect(message(pb, "second unread")).to_be_visible()
    divider = pb.locator("#messages .new-divider")
    await expect(divider).to_have_count(1)
    # The divider sits right above the first unread message, below what was read.
    after = pb.locator("#messages .new-divider + .group")
    await expect(after).to_contain_text("first unread")
    await expect(after).not_to_contain_text("already seen")


async def test_joining_shows_a_line_in_the_room(server, browser):
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, alice)
    await sign_in_via_api(b, server, bob)
    pa = a.page
    await join_new_room(a, b, "hello")
    line = pa.locator("#messages .sys-line", has_text=f"{bob.username} joined")
    await expect(line).to_be_visible()
    await expect(pa.locator("#conv-sub")).to_contain_text("2 members")
    # It stays in place when messages follow.
    await send(pa, "welcome")
    await expect(message(pa, "welcome")).to_be_visible()
    await expect(line).to_be_visible()


async def test_empty_dm_list_points_at_a_way_to_start_one(server, browser):
    a = await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    pa = a.page
    hint = pa.locator("#dm-list .empty-hint")
    await expect(hint).to_be_visible()
    await expect(hint).not_to_contain_text("member list")
    await hint.get_by_role("button").click()
    await expect(pa.locator("#picker-dialog")).to_be_visible()
    await expect(pa.locator("#picker-title")).to_have_text("New direct message")


async def test_long_invitations_are_readable_and_joinable(server, browser):
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, alice)
    await sign_in_via_api(b, server, bob)
    pa, pb = a.page, b.page
    long_name = f"quarterly_planning_and_budget_review_for_the_whole_team_{uuid.uuid4().hex[:8]}"
    await pa.locator("#new-room-btn").click()
    await pa.locator("#create-name").fill(long_name)
    await pa.locator('#create-form input[name="private"]').check()
    await pa.locator("#create-form button[type=submit]").click()
    await expect(pa.locator("#conv-title")).to_contain_text(long_name)
    room_id = await room_id_of(pa)
    me = await b.context.request.get(f"{server.url}/api/users/me")
    bob_id = (await me.json())["id"]
    resp = await a.context.request.post(
        f"{server.url}/api/rooms/{room_id}/invites", data={"userId": bob_id}
    )
    assert resp.ok, await resp.text()

    invite = pb.locator("#invite-list .invite", has_text=long_name[:20])
    await expect(invite).to_be_visible()
    name = invite.locator("strong")
    # The whole name is shown (wrapped), not cut off.
    assert await name.evaluate("el => el.scrollWidth <= el.clientWidth")
    join = invite.get_by_role("button", name="Join")
    side = await pb.locator("#sidebar").bounding_box()
    box = await join.bounding_box()
    assert side and box and box["x"] + box["width"] <= side["x"] + side["width"]
    await join.click()
    await expect(pb.locator("#conv-title")).to_contain_text(long_name)


async def test_phone_list_highlights_nothing_while_no_chat_is_open(server, browser):
    tab = await browser.tab(mobile=True)
    await sign_in_via_api(tab, server, person("pat"))
    page = tab.page
    await expect(page.locator("#sidebar")).to_be_visible()
    await expect(room_item(page, "lobby")).to_be_visible()
    await expect(page.locator("#sidebar .chat-item.active")).to_have_count(0)
    await expect(page.locator('#sidebar [aria-current="page"]')).to_have_count(0)
    # Open the lobby, come back: again nothing is highlighted.
    await room_item(page, "lobby").click()
    await expect(page.locator("#conversation")).to_be_visible()
    await page.locator("#back-btn").click()
    await expect(page.locator("#sidebar")).to_be_visible()
    await expect(page.locator("#sidebar .chat-item.active")).to_have_count(0)
