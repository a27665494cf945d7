"""The Socket.IO browser client shipped in the package (chat_server/static/vendor/) is the
npm package `package-lock.json` pins, byte for byte, with its licence: the web UI of an
installed wheel runs the same client the compatibility tests (tests/compat) run."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from chat_server.webui import VENDOR_DIR, VENDOR_FILES

REPO = Path(__file__).resolve().parents[1]
NPM_PACKAGE = REPO / "node_modules" / "socket.io-client"
LICENSE = VENDOR_DIR / "socket.io-client.LICENSE"
# The build's banner: "/*!\n * Socket.IO v4.8.4\n * (c) ...".
BANNER = re.compile(r"\A/\*!\s*\n \* Socket\.IO v(\d+\.\d+\.\d+)\n")


def pinned_version() -> str:
    lock = json.loads((REPO / "package-lock.json").read_text())
    return str(lock["packages"]["node_modules/socket.io-client"]["version"])


def test_vendored_client_is_the_pinned_version():
    head = (VENDOR_DIR / "socket.io.esm.min.js").read_text()[:200]
    m = BANNER.match(head)
    assert m, f"no Socket.IO version banner at the top of the vendored file: {head!r}"
    assert m.group(1) == pinned_version(), "re-vendor it (chat_server/static/vendor/README.md)"


def test_every_served_file_and_the_licence_are_vendored():
    for name in VENDOR_FILES:
        assert (VENDOR_DIR / name).is_file(), name
    assert "MIT License" in LICENSE.read_text()


def test_vendored_files_equal_the_installed_npm_package():
    if not (NPM_PACKAGE / "package.json").exists():
        pytest.fail("node_modules/socket.io-client is missing: run `npm ci` (scripts/setup.sh)")
    installed = json.loads((NPM_PACKAGE / "package.json").read_text())["version"]
    assert installed == pinned_version(), "node_modules is stale: run `npm ci`"
    for name in VENDOR_FILES:
        assert (VENDOR_DIR / name).read_bytes() == (NPM_PACKAGE / "dist" / name).read_bytes(), name
    assert LICENSE.read_bytes() == (NPM_PACKAGE / "LICENSE").read_bytes()
