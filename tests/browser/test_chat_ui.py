"""Two people in two browser contexts: sign up, rooms, invites, chat, typing, unread, DMs,
history, reload."""

from __future__ import annotations

import re

from playwright.async_api import expect

from tests.browser.conftest import (
    create_room,
    dm_item,
    join_new_room,
    message,
    person,
    room_item,
    send,
    sign_in_via_api,
    sign_up,
)


async def current_room_id(page) -> str:  # type: ignore[no-untyped-def]
    route = await page.evaluate("location.hash")
    match = re.fullmatch(r"#room/([0-9a-f-]{36})", route)
    assert match, route
    return match.group(1)


async def test_two_people_chat_in_a_private_room(server, browser):
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_up(a, server, alice)
    await sign_up(b, server, bob)
    pa, pb = a.page, b.page

    # Alice makes a private room and invites Bob from the people picker.
    room = f"plans_{alice.username[-4:]}"
    await create_room(pa, room, private=True, description="Weekend plans")
    await expect(pa.locator("#conv-sub")).to_contain_text("1 member")
    await pa.locator("#invite-btn").click()
    await pa.locator("#picker-search").fill(bob.username)
    await pa.locator(f'#picker-list .member[data-username="{bob.username}"] button').click()
    await expect(
        pa.locator(f'#picker-list .member[data-username="{bob.username}"] button')
    ).to_have_text("Invited")
    await pa.keyboard.press("Escape")

    # Bob is told at once, and joins from the sidebar.
    invite = pb.locator("#invite-list .invite", has_text=room)
    await expect(invite).to_be_visible()
    await invite.get_by_role("button", name="Join").click()
    await expect(pb.locator("#conv-title")).to_contain_text(room)
    await expect(room_item(pb, room)).to_be_visible()
    await expect(pa.locator("#conv-sub")).to_contain_text("2 members")

    # Chat both ways.
    await send(pa, "hi bob, **welcome**")
    await expect(message(pb, "hi bob, welcome")).to_be_visible()
    await expect(message(pb, "hi bob, welcome").locator("strong")).to_have_text("welcome")
    await send(pb, "hi alice")
    await expect(message(pa, "hi alice")).to_be_visible()
    # Bob has the room open, so Alice's message shows as read.
    await expect(message(pa, "hi bob, welcome")).to_have_attribute("data-status", "read")

    # Shift+Enter is a new line; Enter sends.
    box = pa.locator("#message-input")
    await box.type("line one")
    await box.press("Shift+Enter")
    await box.type("line two")
    await box.press("Enter")
    await expect(message(pb, "line one")).to_contain_text("line two")
    await expect(box).to_have_value("")

    # Typing: appears while Bob types, disappears when he clears the box.
    await pb.locator("#message-input").fill("I am thinking")
    await expect(pa.locator("#typing")).to_have_text(f"{bob.username} is typing…")
    await pb.locator("#message-input").fill("")
    await expect(pa.locator("#typing")).to_have_text("")
    # ...and when he sends.
    await pb.locator("#message-input").fill("typing then")
    await expect(pa.locator("#typing")).to_contain_text(bob.username)
    await pb.locator("#message-input").press("Enter")
    await expect(message(pa, "typing then")).to_be_visible()
    await expect(pa.locator("#typing")).to_have_text("")

    # Unread: Bob looks at the lobby while Alice writes twice; the badge counts, then clears.
    await room_item(pb, "lobby").click()
    await expect(pb.locator("#conv-title")).to_contain_text("lobby")
    await send(pa, "are you there?")
    await send(pa, "hello?")
    await expect(room_item(pb, room).locator(".badge")).to_have_text("2")
    await expect(message(pa, "hello?")).to_have_attribute(
        "data-status", re.compile("sent|delivered")
    )
    await expect(pb).to_have_title("(2) Chat")
    await room_item(pb, room).click()
    await expect(message(pb, "hello?")).to_be_visible()
    await expect(room_item(pb, room).locator(".badge")).to_have_count(0)
    await expect(pb).to_have_title("Chat")
    # Alice sees that Bob read them.
    await expect(message(pa, "hello?")).to_have_attribute("data-status", "read")

    # Reload: still signed in, same room, history back from the server.
    await pb.reload()
    await expect(pb.locator("#conv-title")).to_contain_text(room)
    await expect(message(pb, "hi bob, welcome")).to_be_visible()
    await expect(message(pb, "hello?")).to_be_visible()
    await expect(pb.locator("#me")).to_contain_text(bob.username)
    assert a.dialogs == [] and b.dialogs == []


async def test_browse_and_join_a_public_room_and_leave_it(server, browser):
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, alice)
    await sign_in_via_api(b, server, bob)
    room = f"open_{alice.username[-6:]}"
    await create_room(a.page, room, description="Anyone welcome")

    pb = b.page
    await pb.locator("#browse-btn").click()
    await pb.locator("#browse-search").fill(room)
    item = pb.locator("#browse-list .browse-item", has_text=room)
    await expect(item).to_contain_text("Anyone welcome")
    await item.get_by_role("button", name="Join").click()
    await expect(pb.locator("#conv-title")).to_contain_text(room)
    await expect(a.page.locator("#conv-sub")).to_contain_text("2 members")

    await pb.locator("#leave-btn").click()  # confirm() is accepted by the fixture
    await expect(room_item(pb, room)).to_have_count(0)
    await expect(pb.locator("#conv-title")).to_contain_text("lobby")
    await expect(a.page.locator("#conv-sub")).to_contain_text("1 member")


async def test_direct_messages_from_the_member_list(server, browser):
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, alice)
    await sign_in_via_api(b, server, bob)
    pa, pb = a.page, b.page

    # Alice opens a room's member list and messages Bob from there. (Not the lobby's: the
    # whole test run's users are in it, and its list is paged.)
    room = await join_new_room(a, b, "dm")
    await room_item(pa, room).click()
    await pa.locator("#members-btn").click()
    member = pa.locator(f'#member-list .member[data-username="{bob.username}"]')
    await expect(member).to_contain_text("online")
    await member.get_by_role("button", name="Message").click()
    await expect(pa.locator("#conv-title")).to_contain_text(bob.username)
    await expect(pa.locator("#conv-sub")).to_have_text("online")
    await send(pa, "psst, a secret")

    # Bob gets the conversation with an unread badge; opening it clears the badge.
    await expect(dm_item(pb, alice.username).locator(".badge")).to_have_text("1")
    await dm_item(pb, alice.username).click()
    await expect(message(pb, "psst, a secret")).to_be_visible()
    await expect(dm_item(pb, alice.username).locator(".badge")).to_have_count(0)
    await expect(message(pa, "psst, a secret")).to_have_attribute("data-status", "read")
    await send(pb, "tell me")
    await expect(message(pa, "tell me")).to_be_visible()
    await expect(dm_item(pa, bob.username)).to_contain_text("online")

    # Bob leaves: Alice sees him go offline with a last-seen time.
    await b.context.close()
    await expect(dm_item(pa, bob.username)).to_contain_text("last seen just now")
    await expect(pa.locator("#conv-sub")).to_have_text("last seen just now")

    # A third person never sees the conversation.
    c = await browser.tab()
    await sign_in_via_api(c, server, person("carol"))
    await expect(c.page.locator("#dm-list .chat-item")).to_have_count(0)


async def test_history_scrolls_back_to_the_first_message(server, browser):
    alice = person("alice")
    a = await browser.tab()
    await sign_in_via_api(a, server, alice)
    room = f"long_{alice.username[-6:]}"
    await create_room(a.page, room)
    room_id = await current_room_id(a.page)
    for i in range(1, 131):
        resp = await a.context.request.post(
            f"{server.url}/api/rooms/{room_id}/messages", data={"content": f"history #{i}"}
        )
        assert resp.ok, await resp.text()

    await a.page.reload()
    page = a.page
    await expect(message(page, "history #130")).to_be_visible()
    await expect(page.locator("#messages .msg[data-seq]")).to_have_count(50)
    # Scrolling up loads older pages until the room's first message.
    for _ in range(10):
        if await page.locator(".history-start").count():
            break
        await page.locator("#messages").evaluate("el => { el.scrollTop = 0; }")
        await page.wait_for_timeout(150)
    await expect(page.locator(".history-start")).to_contain_text(f"Welcome to #{room}")
    await expect(page.locator('#messages .msg[data-seq="1"]')).to_contain_text("history #1")
    await expect(page.locator("#messages .msg[data-seq]")).to_have_count(130)
    seqs = await page.locator("#messages .msg[data-seq]").evaluate_all(
        "els => els.map(e => Number(e.dataset.seq))"
    )
    assert seqs == sorted(seqs) and len(set(seqs)) == 130
