"""`GET /api/asyncapi.json` is a valid AsyncAPI 3.0 document for the official parser.

This file owns the standard-conformance check: `@asyncapi/parser` from npm (installed by
`npm ci` from package-lock.json), driven by tests/compat/validate_asyncapi.mjs, parses the
document a live server serves. It must not check the document's content event by event
(tests/security/test_openapi.py does) nor the payloads (tests/event_contract.py does)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from chat_server.api.asyncapi import asyncapi_document
from schemas.socket_events import CLIENT_EVENTS, EVENTS

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "tests" / "compat" / "validate_asyncapi.mjs"
# Node start-up plus parsing (Spectral rules included) on a loaded machine.
NODE_TIMEOUT_S = 60


@pytest.fixture
def asyncapi_parser(node: str) -> str:
    """node, failing (never skipping) when @asyncapi/parser is not installed."""
    if not (ROOT / "node_modules" / "@asyncapi" / "parser" / "package.json").exists():
        pytest.fail("node_modules/@asyncapi/parser is missing: run `npm ci` in the repository root")
    return node


async def _validate(node: str, source: str) -> tuple[int, dict[str, Any], str]:
    """Run the validator on a URL or file: exit code, its summary line, its diagnostics."""
    proc = await asyncio.create_subprocess_exec(
        node,
        str(SCRIPT),
        source,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=os.environ.copy(),
    )
    async with asyncio.timeout(NODE_TIMEOUT_S):
        out, err = await proc.communicate()
    assert proc.returncode is not None
    lines = out.decode().splitlines()
    summary = json.loads(lines[-1]) if lines else {}
    return proc.returncode, summary, err.decode()


async def test_served_document_passes_the_official_parser(server, asyncapi_parser):
    code, summary, diagnostics = await _validate(asyncapi_parser, f"{server.url}/api/asyncapi.json")
    assert code == 0, diagnostics
    assert summary["errors"] == 0 and summary["warnings"] == 0, diagnostics
    assert summary["version"] == "3.0.0"
    assert summary["operations"] == len(EVENTS)
    # One message per event, and one per client event's ack.
    assert summary["messages"] == len(EVENTS) + len(CLIENT_EVENTS)


async def test_the_parser_rejects_a_broken_document(asyncapi_parser, tmp_path):
    """The validation can fail: a dangling reference and a bad type are errors."""
    doc = json.loads(json.dumps(asyncapi_document()))
    doc["operations"]["send_message"]["reply"]["messages"][0]["$ref"] += "_missing"
    doc["components"]["schemas"]["Presence"]["properties"]["status"]["type"] = "strng"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    code, summary, diagnostics = await _validate(asyncapi_parser, str(path))
    assert code == 1
    assert summary["errors"] >= 2, diagnostics
    assert "invalid-ref" in diagnostics and "Presence" in diagnostics
