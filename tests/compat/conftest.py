"""Fixtures for driving the real JavaScript client (socket.io-client from npm)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def node() -> str:
    """The node binary, failing (never skipping) when the JS client is not installed."""
    binary = shutil.which("node")
    if binary is None:
        pytest.fail("node is not on PATH: install Node.js 20+ (with npm) and run `npm ci`")
    if not (ROOT / "node_modules" / "socket.io-client" / "package.json").exists():
        pytest.fail(
            "node_modules/socket.io-client is missing: run `npm ci` in the repository root "
            "(scripts/setup.sh --test does it)"
        )
    return binary
