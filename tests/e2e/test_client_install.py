"""A bot author installs only the client: the `chat-client` distribution (clients/python)
builds from this checkout, installs into a fresh virtualenv outside it with aiohttp and
python-socketio but none of the server's dependencies, and a bot run from that virtualenv
talks to a live server.

The client's dependencies come from pip's configured package index (measured: a few
seconds here, and the same versions a bot author would get). The virtualenv and the bot
run with a clean environment (no PYTHONPATH, cwd outside the checkout), so nothing of the
server's tree or of the shared venv can leak in.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from tests.chat_helpers import post_message
from tests.conftest import LOBBY_ID

REPO = Path(__file__).resolve().parents[2]
CLIENT_DIST = REPO / "clients" / "python"
BOT = Path(__file__).with_name("client_bot.py")
# Building the wheel and installing it with its dependencies into a new venv.
INSTALL_TIMEOUT_S = 90
# The bot's own waits are bounded by its WAIT_S; this bounds the process.
BOT_TIMEOUT_S = 45
# The server's dependencies a client-only install must not bring.
SERVER_ONLY_MODULES = ("asyncpg", "PIL", "pgserver", "redis", "bcrypt", "chat_server")


def _clean_env() -> dict[str, str]:
    """The environment without anything that points at the checkout or the shared venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


async def _run(*args: str | Path, cwd: Path, timeout: float) -> str:
    proc = await asyncio.create_subprocess_exec(
        *map(str, args),
        cwd=cwd,
        env=_clean_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(timeout):
        out, _ = await proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, f"{args!r} failed:\n{text}"
    return text


async def _client_only_venv(workdir: Path) -> Path:
    """Build the client wheel and install only it (and its dependencies) in a new venv."""
    wheels = workdir / "wheels"
    await _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, CLIENT_DIST,
        cwd=workdir, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    (wheel,) = wheels.glob("chat_client-*.whl")
    venv = workdir / "venv"
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    await _run(base_python, "-m", "venv", venv, cwd=workdir, timeout=INSTALL_TIMEOUT_S)
    python = venv / "bin" / "python"
    await _run(
        python, "-m", "pip", "install", "-q", "--disable-pip-version-check", wheel,
        cwd=workdir, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    return python


async def test_a_bot_runs_with_only_the_client_installed(server, register, http, tmp_path):
    workdir = tmp_path / "bot"
    workdir.mkdir()
    assert not workdir.resolve().is_relative_to(REPO)
    python = await _client_only_venv(workdir)

    probe = (
        "import importlib.util, json, chat_client; "
        f"print(json.dumps({{m: importlib.util.find_spec(m) is not None "
        f"for m in {SERVER_ONLY_MODULES!r}}})); "
        "print(chat_client.__file__)"
    )
    found, location = (await _run(python, "-c", probe, cwd=workdir, timeout=30)).splitlines()
    assert json.loads(found) == dict.fromkeys(SERVER_ONLY_MODULES, False)
    assert Path(location).is_relative_to(workdir / "venv")

    bot_user = await register(server)
    human = await register(server)
    shutil.copy(BOT, workdir / BOT.name)
    proc = await asyncio.create_subprocess_exec(
        str(python), BOT.name, server.url, bot_user.username, bot_user.password, LOBBY_ID,
        cwd=workdir, env=_clean_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with asyncio.timeout(BOT_TIMEOUT_S):
            assert proc.stdout is not None
            assert (await proc.stdout.readline()).decode().strip() == "READY"
            ping = await post_message(http, server, human, LOBBY_ID, "ping from a human")
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["received"]["id"] == ping["id"]
    assert result["sent"]["content"] == "pong: ping from a human"
    assert result["sent"]["userId"] == bot_user.id
