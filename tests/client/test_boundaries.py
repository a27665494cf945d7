"""The client package stands alone: it ships as the `chat-client` distribution under the
import name `chat_client`, so it may import only the standard library, aiohttp and
python-socketio, and itself only relatively."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import chat_server.client

PACKAGE = Path(chat_server.client.__file__).parent
ALLOWED_THIRD_PARTY = {"aiohttp", "socketio"}
# Every file of the package is at most this long (a reviewable size; issue 15).
MAX_LINES = 460


def test_the_client_imports_nothing_from_the_server():
    offending = []
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY:
                    offending.append(f"{path.name}: {name}")
    assert offending == []


def test_each_file_has_a_header_and_a_bounded_size():
    for path in sorted(PACKAGE.glob("*.py")):
        text = path.read_text()
        doc = " ".join((ast.get_docstring(ast.parse(text)) or "").split()).lower()
        assert "owns" in doc and "must not" in doc, path.name
        assert len(text.splitlines()) <= MAX_LINES, path.name
