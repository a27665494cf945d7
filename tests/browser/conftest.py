"""Real-browser tests of the web client: headless Chromium (Debian's `chromium` package)
driven by Playwright's Python package against the real app on a real port.

Playwright never downloads a browser here: it launches the system Chromium through
`executable_path` (scripts/setup.sh --test installs it). Each test gets its own browser
so tests stay independent; every page fails its test on an uncaught JavaScript error or
a JavaScript dialog (which is what an XSS payload would open).
"""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSWORD, LiveServer

try:
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect
except ImportError:  # pragma: no cover - the dev extra installs it
    async_playwright = None  # type: ignore[assignment]

CHROMIUM = os.environ.get("CHAT_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Playwright's auto-waiting assertions: generous enough for a loaded CI machine.
EXPECT_TIMEOUT_MS = 15_000
REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "docs" / "screenshots"


def _skip_or_fail(reason: str) -> None:
    # In CI the browser is part of the install (scripts/setup.sh --test): never skip there.
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@dataclass
class Tab:
    """A page with what it has seen: JS dialogs, uncaught errors."""

    page: Page
    context: BrowserContext
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class BrowserKit:
    browser: Browser
    tabs: list[Tab] = field(default_factory=list)

    async def tab(self, *, viewport: dict[str, int] | None = None, mobile: bool = False) -> Tab:
        """A page in a fresh context (its own cookies and storage: another person)."""
        context = await self.browser.new_context(
            viewport=viewport or (PHONE if mobile else DESKTOP),
            is_mobile=mobile,
            has_touch=mobile,
            device_scale_factor=2 if mobile else 1,
            locale="en-GB",
            timezone_id="UTC",
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        page = await context.new_page()
        tab = Tab(page=page, context=context)

        async def on_dialog(dialog: Any) -> None:
            tab.dialogs.append(f"{dialog.type}: {dialog.message}")
            # `confirm()` of our own UI (leave room) is accepted; anything else is recorded.
            await (dialog.accept() if dialog.type == "confirm" else dialog.dismiss())

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: tab.errors.append(str(exc)))
        self.tabs.append(tab)
        return tab


@pytest.fixture
async def browser() -> AsyncIterator[BrowserKit]:
    if async_playwright is None:
        _skip_or_fail("the Python package `playwright` is not installed (pip install -e '.[dev]')")
    if not Path(CHROMIUM).exists():
        _skip_or_fail(f"Chromium not found at {CHROMIUM} (scripts/setup.sh --test installs it)")
    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        kit = BrowserKit(chromium)
        try:
            yield kit
        finally:
            errors = [(i, e) for i, t in enumerate(kit.tabs) for e in t.errors]
            await chromium.close()
        assert not errors, f"uncaught JavaScript errors: {errors}"


@dataclass
class Person:
    username: str
    email: str
    password: str = PASSWORD


def person(prefix: str = "u") -> Person:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    return Person(username=name, email=f"{name}@example.test")


async def sign_up(tab: Tab, server: LiveServer, who: Person) -> None:
    """Create an account through the page's own form."""
    page = tab.page
    await page.goto(f"{server.url}/#register")
    await page.locator("#register-email").fill(who.email)
    await page.locator("#register-username").fill(who.username)
    await page.locator("#register-password").fill(who.password)
    await page.get_by_role("button", name="Create account", exact=True).click()
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#me")).to_contain_text(who.username)
    await wait_online(page)


async def sign_in_via_api(
    tab: Tab, server: LiveServer, who: Person, *, register: bool = True
) -> None:
    """Register (or log in) through the API inside the page's context: the session cookies
    land in that context, as after a real login, without the cost of typing it."""
    path = "register" if register else "login"
    body: dict[str, str] = {"email": who.email, "password": who.password}
    if register:
        body["username"] = who.username
    resp = await tab.context.request.post(f"{server.url}/api/auth/{path}", data=body)
    assert resp.ok, await resp.text()
    # A sign-in through the page leaves this hint in localStorage (js/api.js); without it
    # the page shows the sign-in form without asking the server.
    await tab.page.goto(server.url)
    await tab.page.evaluate("localStorage.setItem('chat.hasSession', '1')")
    await tab.page.reload()
    await expect(tab.page.locator("#me")).to_contain_text(who.username)
    await wait_online(tab.page)


async def wait_online(page: Page) -> None:
    await expect(page.locator("body")).to_have_attribute("data-connection", "online")


def room_item(page: Page, name: str) -> Any:
    return page.locator(f'#room-list .chat-item[data-name="{name}"]')


def dm_item(page: Page, username: str) -> Any:
    return page.locator(f'#dm-list .chat-item[data-name="{username}"]')


async def create_room(
    page: Page, name: str, *, private: bool = False, description: str = ""
) -> None:
    await page.locator("#new-room-btn").click()
    await page.locator("#create-name").fill(name)
    if description:
        await page.locator('#create-form input[name="description"]').fill(description)
    if private:
        await page.locator('#create-form input[name="private"]').check()
    await page.locator("#create-form button[type=submit]").click()
    await expect(page.locator("#conv-title")).to_contain_text(name)


async def send(page: Page, text: str) -> None:
    box = page.locator("#message-input")
    await box.fill(text)
    await box.press("Enter")


def message(page: Page, text: str) -> Any:
    """A rendered message (not a pending outbox entry) whose text contains `text`."""
    return page.locator("#messages .msg[data-seq]", has_text=text)


async def join_new_room(owner: Tab, other: Tab | None, prefix: str) -> str:
    """A fresh public room made by `owner` (and joined by `other`), so a test never sees
    another test's messages (the lobby is shared by the whole run). Returns its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await create_room(owner.page, name)
    if other is not None:
        page = other.page
        await page.locator("#browse-btn").click()
        await page.locator("#browse-search").fill(name)
        await (
            page.locator("#browse-list .browse-item", has_text=name)
            .get_by_role("button", name="Join")
            .click()
        )
        await expect(page.locator("#conv-title")).to_contain_text(name)
    return name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Starter = Callable[..., Awaitable[LiveServer]]
