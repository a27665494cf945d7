"""The wheel is the whole server (issue 14 item 14): built from the repository, installed
(not editable) into a fresh virtualenv outside the checkout, `chat-server` starts on the
embedded PostgreSQL with no checkout and no Node.js, serves the API, and its web UI signs a
user in and connects its socket in a real browser.

How the virtualenv gets its dependencies: downloading and building ~40 packages in a test
would take minutes and need the network, and what is under test is the wheel's own content
(code, SQL, web UI), not pip's resolver. So the fresh venv (made without pip; the test
runner's pip installs into it with `--python`) receives the wheel with `--no-deps`, and a
`.pth` file appends this interpreter's site-packages for the third-party packages. A
`.pth` line only adds a directory to sys.path (the `.pth` files inside it are not run), so
the editable install of the checkout that lives there is not active: the test asserts that
`chat_server` is imported from the new venv. The server runs with a clean environment (no
PYTHONPATH), its working directory outside the checkout, and a PATH without `node`.

Building the wheel uses pip's isolated build environment (setuptools from pyproject.toml's
build-system table, from the configured index).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.browser.conftest import (
    browser,  # noqa: F401 - a fixture of this module's tests
    person,
    sign_in_via_api,
)
from tests.e2e.test_embedded_default import Sandbox

REPO = Path(__file__).resolve().parents[2]
# What the wheel is built from: the same files the Dockerfile copies into its build stage
# (haproxy.cfg: chat_server/haproxy.cfg is a link to it, copied as a link, as COPY does).
SOURCE_FILES = ("pyproject.toml", "setup.cfg", "README.md", "haproxy.cfg")
SOURCE_DIRS = ("chat_server", "schemas", "sql")
# Building needs an isolated build environment: give pip room on a loaded machine.
BUILD_TIMEOUT_S = 300
# Directories with no `node` in them: the server's PATH (sbin: pgserver may need useradd).
PATH_WITHOUT_NODE = ("/usr/sbin", "/sbin")


@dataclass
class Installed:
    venv: Path
    wheel: Path
    chat_server: Path  # the console script

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def env(self, home: Path) -> dict[str, str]:
        """A clean environment: no PYTHONPATH, no checkout, no node on PATH."""
        path = ":".join((str(self.venv / "bin"), *PATH_WITHOUT_NODE))
        assert shutil.which("node", path=path) is None, path
        return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{cmd} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _without_pythonpath() -> dict[str, str]:
    """This environment minus PYTHONPATH, which may point at the checkout."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _source_copy(dest: Path) -> Path:
    """The repository's package sources, without build leftovers (a stale build/ would leak
    deleted modules into the wheel)."""
    for name in SOURCE_FILES:
        shutil.copy2(REPO / name, dest / name)
    for name in SOURCE_DIRS:
        shutil.copytree(
            REPO / name,
            dest / name,
            symlinks=True,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
    return dest


@pytest.fixture(scope="module")
def installed() -> Iterator[Installed]:
    root = Path(tempfile.mkdtemp(prefix="chat-wheel-", dir="/tmp"))
    try:
        src = _source_copy(Path(tempfile.mkdtemp(dir=root)))
        dist = root / "dist"
        _run(
            *(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, src),
            cwd=root,
            env=_without_pythonpath(),
        )
        (wheel,) = dist.glob("chat_server-*.whl")
        venv = root / "venv"
        _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=root)
        # pip must see an empty venv: with the .pth in place it would find the checkout's
        # editable chat-server 0.1.0 there and call the wheel "already installed".
        _run(
            sys.executable,
            "-m",
            "pip",
            "--python",
            venv / "bin" / "python",
            "install",
            "-q",
            "--no-deps",
            wheel,
            cwd=root,
            env=_without_pythonpath(),
        )
        purelib = _run(
            venv / "bin" / "python",
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=root,
            env={},
        ).strip()
        shared = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
        (Path(purelib) / "test-dependencies.pth").write_text("\n".join(sorted(shared)) + "\n")
        yield Installed(venv=venv, wheel=wheel, chat_server=venv / "bin" / "chat-server")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()


def test_wheel_holds_every_module_sql_file_and_the_web_ui(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as whl:
        names = set(whl.namelist())
        # The one HAProxy config, for `chat-server cluster`: the content of the top-level
        # haproxy.cfg, not the link chat_server/haproxy.cfg is in the checkout.
        assert whl.read("chat_server/haproxy.cfg") == (REPO / "haproxy.cfg").read_bytes()
    # Every module, every SQL file and everything the web UI serves.
    expected = set()
    for top in SOURCE_DIRS:
        for path in (REPO / top).rglob("*"):
            rel = path.relative_to(REPO).as_posix()
            shipped = path.suffix in (".py", ".sql") or rel.startswith("chat_server/static/")
            if path.is_file() and shipped and "__pycache__" not in path.parts:
                expected.add(f"chat_server/{rel}" if top == "sql" else rel)
    missing = sorted(expected - names)
    assert not missing, f"not in the wheel (setup.cfg [options] packages/package_data): {missing}"
    assert "chat_server/static/vendor/socket.io.esm.min.js" in names
    assert "chat_server/static/vendor/socket.io-client.LICENSE" in names
    assert "chat_server/sql/migrations/0001_initial.sql" in names


def test_installed_wheel_launches_haproxy_with_its_own_config(installed: Installed) -> None:
    """`chat-server cluster` from a wheel: the launcher finds haproxy.cfg in the installed
    package, not in a checkout."""
    where = _run(
        installed.python,
        "-c",
        "from chat_server.launcher import HAPROXY_CFG; print(HAPROXY_CFG)",
        cwd=installed.venv,
        env=installed.env(home=installed.venv),
    ).strip()
    cfg = Path(where)
    assert cfg.is_relative_to(installed.venv), where
    assert cfg.read_bytes() == (REPO / "haproxy.cfg").read_bytes()


async def test_installed_wheel_serves_api_and_ui_without_checkout_or_node(
    installed: Installed,
    sandbox: Sandbox,
    browser,  # noqa: F811 - the fixture imported above
) -> None:
    env = installed.env(home=sandbox.root)
    where = _run(
        installed.python,
        "-c",
        "import chat_server; print(chat_server.__file__)",
        cwd=sandbox.root,
        env=env,
    ).strip()
    assert Path(where).is_relative_to(installed.venv), where

    server = sandbox.start(command=[str(installed.chat_server)], base_env=env)
    await server.wait_ready()
    out = server.output()
    assert "migrations_applied" in out, out  # the wheel's SQL created the schema

    async with aiohttp.ClientSession() as http:
        who = person("wheel")
        body = {"email": who.email, "username": who.username, "password": who.password}
        async with http.post(f"{server.url}/api/auth/register", json=body) as resp:
            assert resp.status in (200, 201), await resp.text()
        async with http.get(f"{server.url}/static/vendor/socket.io.esm.min.js") as resp:
            assert resp.status == 200, await resp.text()

    # The page loads, its Socket.IO client (served from the wheel) connects: online.
    tab = await browser.tab()
    await sign_in_via_api(tab, server, person("wheelui"))
    assert server.terminate() == 0, server.output()
