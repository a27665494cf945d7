"""Messages that change, in the web UI (issue 16 item 5): two people in Chromium edit,
delete, react, reply in a thread and pin as users do; the other sees each change live,
after a reload, and after being offline while it happened (recovered through `sync`
`changes`, not a reload); on a phone the actions open with a long press."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.async_api import Page, expect

from tests.browser.conftest import (
    Tab,
    join_new_room,
    message,
    person,
    send,
    sign_in_via_api,
    wait_online,
)
from tests.browser.test_views_ui import shoot, shots_dir


async def msg_by_id(page: Page, text: str) -> Any:
    """The message showing `text` now, found again by its id (its text may change)."""
    el = message(page, text)
    await expect(el).to_be_visible()
    return page.locator(f"#m-{await el.get_attribute('data-id')}")


async def act(page: Page, msg: Any, action: str) -> None:
    """Hover a message and click one of its toolbar's actions."""
    await msg.locator(".bubble").hover()
    await msg.locator(f".msg-actions [data-action={action}]").click()


def chip(msg: Any, emoji: str) -> Any:
    return msg.locator(f'.reaction[data-emoji="{emoji}"]')


async def test_edit_delete_react_reply_pin_live_and_after_reload(server, browser, tmp_path: Path):
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    await sign_in_via_api(b, server, person("bob"))
    await join_new_room(a, b, "changes")
    pa, pb = a.page, b.page
    for text in ("teh first message", "second, to delete", "third, to pin"):
        await send(pa, text)
        await expect(message(pb, text)).to_be_visible()
    first_a, first_b = await msg_by_id(pa, "teh first"), await msg_by_id(pb, "teh first")

    # Alice fixes her typo in place: Enter saves; Bob sees the new text, marked edited.
    await act(pa, first_a, "edit")
    box = first_a.locator("textarea.edit-input")
    await expect(box).to_be_focused()
    await expect(box).to_have_value("teh first message")
    await box.fill("the first message")
    await box.press("Enter")
    for m in (first_a, first_b):
        await expect(m.locator(".text")).to_have_text("the first message")
        await expect(m.locator("button.edited")).to_be_visible()
    # Bob opens the edit history from "(edited)": the original is there.
    await first_b.locator("button.edited").click()
    history = pb.locator("#edits-dialog")
    await expect(history).to_be_visible()
    await expect(history.locator(".edit-version")).to_have_count(2)
    await expect(history.locator(".edit-version").last).to_contain_text("teh first message")
    await pb.keyboard.press("Escape")
    await expect(history).to_be_hidden()

    # Alice deletes a message after confirming: both see a tombstone where it was.
    second_a, second_b = await msg_by_id(pa, "second, to delete"), await msg_by_id(pb, "second")
    await act(pa, second_a, "trash")
    assert any(d.startswith("confirm: Delete this message?") for d in a.dialogs), a.dialogs
    for m in (second_a, second_b):
        await expect(m.locator(".tombstone")).to_have_text("message deleted")
        await expect(m).not_to_contain_text("to delete")
        await expect(m.locator(".msg-actions")).to_have_count(0)

    # Bob reacts with an emoji found by name in the picker; Alice's chip counts it and
    # toggles her own reaction on and off.
    await act(pb, first_b, "react")
    picker = pb.locator("#emoji-picker")
    await expect(picker).to_be_visible()
    await expect(picker.locator('.emoji-choice[data-emoji="👍"]')).to_be_visible()
    await pb.locator("#emoji-search").fill("party")
    await picker.locator('.emoji-choice[data-emoji="🎉"]').click()
    await expect(picker).to_be_hidden()
    await expect(chip(first_b, "🎉")).to_have_attribute("aria-pressed", "true")
    await expect(chip(first_a, "🎉")).to_have_attribute("aria-pressed", "false")
    await expect(chip(first_a, "🎉")).to_have_attribute("data-count", "1")
    await chip(first_a, "🎉").click()
    for m in (first_a, first_b):
        await expect(chip(m, "🎉")).to_have_attribute("data-count", "2")
    await expect(chip(first_a, "🎉")).to_have_attribute("aria-pressed", "true")
    await chip(first_a, "🎉").click()
    for m in (first_a, first_b):
        await expect(chip(m, "🎉")).to_have_attribute("data-count", "1")
    await expect(chip(first_a, "🎉")).to_have_attribute("aria-pressed", "false")

    # Bob answers in a thread: the side panel opens; the reply stays out of the main
    # timeline, which shows "1 reply" under the root for both.
    third_a, third_b = await msg_by_id(pa, "third, to pin"), await msg_by_id(pb, "third")
    await act(pb, third_b, "thread")
    panel_b = pb.locator("#thread-panel")
    await expect(panel_b).to_be_visible()
    await expect(panel_b.locator(".thread-root")).to_contain_text("third, to pin")
    await pb.locator("#thread-input").fill("a reply in the thread")
    await pb.locator("#thread-input").press("Enter")
    await expect(panel_b.locator(".thread-msg[data-seq]", has_text="a reply")).to_be_visible()
    for m in (third_a, third_b):
        await expect(m.locator(".thread-link")).to_contain_text("1 reply")
    await expect(message(pa, "a reply in the thread")).to_have_count(0)
    await third_a.locator(".thread-link").click()
    panel_a = pa.locator("#thread-panel")
    await expect(panel_a.locator(".thread-msg", has_text="a reply in the thread")).to_be_visible()
    await pa.locator("#thread-close").click()
    await expect(panel_a).to_be_hidden()

    # Alice pins the third message: Bob's header counts it and lists it.
    await act(pa, third_a, "pin")
    await expect(third_b.locator(".pin-mark")).to_be_visible()
    await expect(pb.locator("#pins-count")).to_have_text("1")
    await pb.locator("#pins-btn").click()
    await expect(pb.locator("#pins-panel .pin-item")).to_have_count(1)
    await expect(pb.locator("#pins-panel .pin-item")).to_contain_text("third, to pin")
    # docs/screenshots/changes.png (CHAT_UPDATE_SCREENSHOTS=1): Bob's view with its thread.
    await third_b.locator(".thread-link").click()
    await expect(panel_b.locator(".thread-msg", has_text="a reply")).to_be_visible()
    await first_b.locator(".bubble").hover()
    await shoot(pb, shots_dir(tmp_path) / "changes.png")

    # After a reload Bob sees the same state, from history alone.
    await pb.reload()
    await wait_online(pb)
    first_b = await msg_by_id(pb, "the first message")
    await expect(first_b.locator("button.edited")).to_be_visible()
    await expect(chip(first_b, "🎉")).to_have_attribute("aria-pressed", "true")
    await expect(chip(first_b, "🎉")).to_have_attribute("data-count", "1")
    await expect(pb.locator("#messages .tombstone")).to_have_count(1)
    await expect(message(pb, "to delete")).to_have_count(0)
    third_b = await msg_by_id(pb, "third, to pin")
    await expect(third_b.locator(".thread-link")).to_contain_text("1 reply")
    await expect(third_b.locator(".pin-mark")).to_be_visible()
    await expect(pb.locator("#pins-count")).to_have_text("1")
    await expect(message(pb, "a reply in the thread")).to_have_count(0)


async def test_an_edit_in_progress_survives_a_change_to_its_message(server, browser):
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    await sign_in_via_api(b, server, person("bob"))
    await join_new_room(a, b, "typing")
    pa, pb = a.page, b.page
    await send(pa, "draft one")
    mine = await msg_by_id(pa, "draft one")
    await act(pa, mine, "edit")
    box = mine.locator("textarea.edit-input")
    await box.press("End")
    await box.type(", half typed")

    # Bob reacts meanwhile: Alice's message is drawn again, her edit box with it.
    await act(pb, await msg_by_id(pb, "draft one"), "react")
    await pb.locator('#emoji-picker .emoji-choice[data-emoji="🙏"]').click()
    await expect(chip(mine, "🙏")).to_have_attribute("data-count", "1")

    # What she typed is still there, and she goes on typing where she was.
    await expect(box).to_have_value("draft one, half typed")
    await expect(box).to_be_focused()
    await pa.keyboard.type(" and done")
    await pa.keyboard.press("Enter")
    for page in (pa, pb):
        await expect(message(page, "draft one, half typed and done")).to_be_visible()


async def test_changes_made_while_offline_show_after_reconnect(server, browser):
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, person("alice"))
    await sign_in_via_api(b, server, person("bob"))
    await join_new_room(a, b, "away")
    pa, pb = a.page, b.page
    for text in ("one, to edit", "two, to delete", "three, to react to"):
        await send(pa, text)
        await expect(message(pb, text)).to_be_visible()
    # A mark that a reload would wipe: what Bob sees later comes from `sync`, not a reload.
    await pb.evaluate("window.__stillTheSamePage = true")

    await b.context.set_offline(True)
    await expect(pb.locator("body")).to_have_attribute("data-connection", "offline")

    one = await msg_by_id(pa, "one, to edit")
    await act(pa, one, "edit")
    await one.locator("textarea.edit-input").fill("one, edited while Bob was away")
    await one.locator("textarea.edit-input").press("Enter")
    await expect(one.locator("button.edited")).to_be_visible()
    await act(pa, await msg_by_id(pa, "two, to delete"), "trash")
    three = await msg_by_id(pa, "three, to react to")
    await act(pa, three, "react")
    await pa.locator('#emoji-picker .emoji-choice[data-emoji="👍"]').click()
    await expect(chip(three, "👍")).to_have_attribute("data-count", "1")

    await b.context.set_offline(False)
    await wait_online(pb)
    one_b = await msg_by_id(pb, "one, edited while Bob was away")
    await expect(one_b.locator("button.edited")).to_be_visible()
    await expect(pb.locator("#messages .tombstone")).to_have_text("message deleted")
    await expect(message(pb, "two, to delete")).to_have_count(0)
    three_b = await msg_by_id(pb, "three, to react to")
    await expect(chip(three_b, "👍")).to_have_attribute("data-count", "1")
    await expect(chip(three_b, "👍")).to_have_attribute("aria-pressed", "false")
    assert await pb.evaluate("window.__stillTheSamePage === true")


async def test_a_change_that_skips_ahead_fills_the_gap(
    server, start_server, make_config, browser, http
):
    alice, bob = person("alice"), person("bob")
    a, b = await browser.tab(), await browser.tab()
    await sign_in_via_api(a, server, alice)
    await sign_in_via_api(b, server, bob)
    await join_new_room(a, b, "gap")
    pa, pb = a.page, b.page
    room_id = await room_id_of(pa)
    for text in ("alpha", "beta"):
        await send(pa, text)
        await expect(message(pb, text)).to_be_visible()
    alpha_id = await message(pa, "alpha").get_attribute("data-id")

    # Alice edits through another instance on the same database: its `message_updated`
    # reaches nobody here, so Bob's page misses that change...
    side = await start_server(make_config())
    async with http.post(
        f"{side.url}/api/auth/login", json={"email": alice.email, "password": alice.password}
    ) as resp:
        token = (await resp.json())["accessToken"]
    async with http.patch(
        f"{side.url}/api/rooms/{room_id}/messages/{alpha_id}",
        json={"content": "alpha, edited elsewhere"},
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert resp.status == 200, await resp.text()
    await side.close()
    await expect(message(pb, "alpha").locator(".text")).to_have_text("alpha")

    # ...until the next change reaches it live with a changeSeq that skips one: the page
    # fetches what it missed (`/changes`) without a reload.
    beta = await msg_by_id(pa, "beta")
    await act(pa, beta, "react")
    await pa.locator('#emoji-picker .emoji-choice[data-emoji="👀"]').click()
    await expect(chip(await msg_by_id(pb, "beta"), "👀")).to_have_attribute("data-count", "1")
    await expect(message(pb, "alpha, edited elsewhere").locator("button.edited")).to_be_visible()


async def room_id_of(page: Page) -> str:
    route = await page.evaluate("location.hash")
    match = re.fullmatch(r"#room/([0-9a-f-]{36})", route)
    assert match, route
    return match.group(1)


async def long_press(tab: Tab, target: Any) -> None:
    """A finger resting on `target` until the action sheet opens, then lifted."""
    box = await target.bounding_box()
    assert box
    point = {
        "pointerType": "touch",
        "isPrimary": True,
        "clientX": box["x"] + box["width"] / 2,
        "clientY": box["y"] + box["height"] / 2,
    }
    await target.dispatch_event("pointerdown", point)
    await expect(tab.page.locator("#action-sheet")).to_be_visible()
    await target.dispatch_event("pointerup", point)


async def test_phone_long_press_opens_actions_and_the_thread_panel_fills_the_screen(
    server, browser, tmp_path: Path
):
    a, b = await browser.tab(), await browser.tab(mobile=True)
    await sign_in_via_api(a, server, person("alice"))
    await sign_in_via_api(b, server, person("bob"))
    await join_new_room(a, b, "phone")
    pa, pb = a.page, b.page
    await send(pa, "hello phone")
    await expect(message(pb, "hello phone")).to_be_visible()
    hello_b, hello_a = await msg_by_id(pb, "hello phone"), await msg_by_id(pa, "hello phone")
    # No hover on a touch screen: the toolbar stays hidden; a long press opens the sheet.
    await expect(hello_b.locator(".msg-actions")).to_be_hidden()

    await long_press(b, hello_b.locator(".bubble"))
    sheet = pb.locator("#action-sheet")
    await shoot(pb, shots_dir(tmp_path) / "mobile-actions.png")
    await sheet.locator('.quick-emoji[data-emoji="❤️"]').click()
    await expect(sheet).to_be_hidden()
    await expect(chip(hello_a, "❤️")).to_have_attribute("data-count", "1")
    await expect(chip(hello_b, "❤️")).to_have_attribute("aria-pressed", "true")

    await long_press(b, hello_b.locator(".bubble"))
    await sheet.locator(".sheet-item[data-action=thread]").click()
    panel = pb.locator("#thread-panel")
    await expect(panel).to_be_visible()
    width = pb.viewport_size["width"] if pb.viewport_size else 0
    panel_box = await panel.bounding_box()
    assert panel_box and panel_box["width"] == width
    await pb.locator("#thread-input").fill("replying from my phone")
    await pb.locator("#thread-input").press("Enter")
    await expect(
        panel.locator(".thread-msg[data-seq]", has_text="replying from my phone")
    ).to_be_visible()
    await expect(hello_a.locator(".thread-link")).to_contain_text("1 reply")
    await pb.locator("#thread-close").click()
    await expect(panel).to_be_hidden()
    await expect(hello_b.locator(".thread-link")).to_contain_text("1 reply")
