"""Property-based REST fuzzing with schemathesis against a live server, driven by the
server's own `GET /api/openapi.json`.

Every operation is called with data that fits the spec (positive) and data that breaks it
(negative), authenticated as a normal user; then the links of the spec are followed by a
stateful run (create a room -> post in it, read it, invite, leave...). Every check
schemathesis has runs ("all"): no 5xx; every status code, content type, header and body is
the documented one; data that fits the document is accepted (`positive_data_acceptance`)
and data that breaks it is refused (`negative_data_rejection`), so the document says
exactly what the server accepts; plus the checks of resources and authentication. Then
the schemathesis CLI itself, `run --checks all` with its examples, coverage, fuzzing and
stateful phases, must pass too. Afterwards the stored data must still be whole: accounts
and rooms readable, every room's seq 1..N without gaps.

The server runs in the test's event loop; schemathesis is synchronous (requests), so it
runs in a worker thread (the CLI in a subprocess). Everything is bounded: a few examples
per operation, derandomized or seeded so that a run is reproducible. Which schema-valid
requests the server may still refuse, and why, is in schemathesis.toml next to this file.
"""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import load_all_checks
from schemathesis.config import SchemathesisConfig

from chat_server.api.openapi import openapi_document
from tests.chat_helpers import api, create_room, post_message, private_room_with
from tests.conftest import LOBBY_ID, PASSWORD
from tests.security import schemathesis_hooks

load_all_checks()
# Every check, as `--checks all` (each one skips the cases it does not apply to).
CHECKS = CHECK_REGISTRY.get_all()
CONFIG_FILE = Path(__file__).with_name("schemathesis.toml")
REPO_ROOT = Path(__file__).parents[2]
EXAMPLES_PER_OPERATION = 25
# The CLI run: examples per operation and phase, and its seed.
CLI_EXAMPLES = 20
CLI_SEED = 1
CLI_TIMEOUT_S = 300
STATEFUL_EXAMPLES = 30
STATEFUL_STEPS = 8
REQUEST_TIMEOUT_S = 10
# Operations whose call ends the caller's session: each of their calls gets a fresh one.
SESSION_ENDING = {"POST /api/auth/logout"}


def _settings(examples: int, **extra: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        **extra,
    )


class Fuzzer:
    """Runs in the worker thread: blocking HTTP with requests."""

    def __init__(self, base_url: str, email: str, token: str):
        self.base_url = base_url
        self.email = email
        self.token = token
        self.session = requests.Session()
        self.schema = schemathesis.openapi.from_dict(
            copy.deepcopy(openapi_document()), config=SchemathesisConfig.from_path(CONFIG_FILE)
        )
        self.failures: list[str] = []
        self.calls = 0

    def fresh_token(self) -> str:
        resp = self.session.post(
            f"{self.base_url}/api/auth/login",
            json={"email": self.email, "password": PASSWORD},
            timeout=REQUEST_TIMEOUT_S,
        )
        assert resp.status_code == 200, resp.text
        return str(resp.json()["accessToken"])

    def headers_for(self, label: str) -> dict[str, str]:
        token = self.fresh_token() if label in SESSION_ENDING else self.token
        return {"Authorization": f"Bearer {token}"}

    def call(self, case: schemathesis.Case, checks: list[Any]) -> None:
        label = case.operation.label
        headers = self.headers_for(label)
        response = case.call(
            base_url=self.base_url,
            session=self.session,
            headers=headers,
            timeout=REQUEST_TIMEOUT_S,
        )
        self.calls += 1
        case.validate_response(
            response,
            checks=checks,
            headers=headers,
            transport_kwargs={"base_url": self.base_url, "timeout": REQUEST_TIMEOUT_S},
        )

    def run_operations(self) -> None:
        for result in self.schema.get_all_operations():
            operation = result.ok()
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    self.run_operation(operation, mode)
                except hypothesis.errors.Unsatisfiable:
                    continue  # nothing negative to say about a parameterless GET
                except (Exception, BaseExceptionGroup) as exc:  # FailureGroup is a Base one
                    self.failures.append(f"{operation.label} [{mode}]: {exc}")

    def run_operation(self, operation: Any, mode: GenerationMode) -> None:
        checks = CHECKS

        @_settings(EXAMPLES_PER_OPERATION)
        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        def run(case: schemathesis.Case) -> None:
            self.call(case, checks)

        run()

    def run_stateful(self) -> None:
        fuzzer = self

        class Machine(self.schema.as_state_machine()):  # type: ignore[misc]
            def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
                return {
                    "base_url": fuzzer.base_url,
                    "session": fuzzer.session,
                    "headers": fuzzer.headers_for(case.operation.label),
                    "timeout": REQUEST_TIMEOUT_S,
                }

            def validate_response(self, response, case, additional_checks=None, **kwargs):  # type: ignore[no-untyped-def]
                # Recorded, not raised: a scenario's steps depend on the live server's
                # state, so hypothesis could not replay a failing one exactly (it would
                # report "inconsistent data generation" instead of the failure).
                fuzzer.calls += 1
                try:
                    case.validate_response(
                        response,
                        checks=CHECKS,
                        headers=kwargs.get("headers"),
                        transport_kwargs={
                            "base_url": fuzzer.base_url,
                            "timeout": REQUEST_TIMEOUT_S,
                        },
                    )
                except (Exception, BaseExceptionGroup) as exc:
                    fuzzer.failures.append(f"stateful {case.operation.label}: {exc}")

        try:
            Machine.run(settings=_settings(STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS))
        except hypothesis.errors.FlakyStrategyDefinition:
            # hypothesis re-ran a choice sequence and the live server (rightly) answered
            # differently the second time, so the scenario took another path. Not a
            # failure of the API: the failures of the steps are recorded above.
            pass
        except (Exception, BaseExceptionGroup) as exc:
            self.failures.append(f"stateful: {exc}")


async def run_cli(base_url: str, token: str) -> tuple[int, str]:
    """`schemathesis run --checks all` against the live server: all four phases. Logging
    out is left out (it would end the one session the CLI has; the fuzzer above logs out
    with fresh sessions)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--no-color",
        "--config-file",
        str(CONFIG_FILE),
        "run",
        f"{base_url}/api/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--exclude-path",
        "/api/auth/logout",
        "--max-examples",
        str(CLI_EXAMPLES),
        "--seed",
        str(CLI_SEED),
        "--workers",
        "1",
        "--request-timeout",
        str(REQUEST_TIMEOUT_S),
        "--continue-on-failure",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={
            **os.environ,
            "SCHEMATHESIS_HOOKS": schemathesis_hooks.__name__,
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        },
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), CLI_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode("utf-8", errors="replace")


async def test_rest_api_survives_schemathesis(start_server, register, http, database_url):
    server = await start_server()
    user = await register(server)
    other = await register(server)
    # The CLI's own account: the fuzzer may change the first one's email (PUT /api/users/me).
    cli_user = await register(server)
    # Something to find: rooms, messages and a DM the fuzzer's ids may or may not hit.
    room = await create_room(http, server, user)
    await post_message(http, server, user, room["id"], "hello **world**")
    await private_room_with(http, server, other)
    await api(
        http, server, "POST", f"/api/direct-messages/{other.id}", user, json={"content": "psst"}
    )

    fuzzer = Fuzzer(server.url, user.email, user.access_token)
    started = time.monotonic()
    await asyncio.to_thread(fuzzer.run_operations)
    single = fuzzer.calls
    await asyncio.to_thread(fuzzer.run_stateful)
    elapsed = time.monotonic() - started
    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)
    stateful = fuzzer.calls - single
    print(f"schemathesis: {single} + {stateful} stateful calls in {elapsed:.1f}s")
    assert single > 300 and stateful > 30, (single, stateful)

    code, report = await run_cli(server.url, cli_user.access_token)
    assert code == 0, report
    # Every pattern of the document was usable (none dropped as unsupported).
    assert "Unsupported regex" not in report, report

    # Nothing stored is corrupted: the people and rooms are readable as before...
    for who in (user, other):
        status, body = await api(http, server, "GET", "/api/users/me", who)
        if status == 401:  # the fuzzer may have logged this session out: log in again
            who.access_token = fuzzer.fresh_token() if who is user else who.access_token
            status, body = await api(http, server, "GET", "/api/users/me", who)
        assert status == 200, body
        status, body = await api(http, server, "GET", "/api/rooms", who)
        assert status == 200, body
        status, body = await api(http, server, "GET", f"/api/rooms/{LOBBY_ID}/messages", who)
        assert status == 200, body
    status, body = await api(http, server, "GET", f"/api/rooms/{room['id']}/messages", user)
    assert status == 200 and body["messages"][0]["content"] == "hello **world**", body
    # ...and every room's messages are numbered 1..last_seq without gaps or duplicates.
    conn = await asyncpg.connect(database_url)
    try:
        broken = await conn.fetch(
            """
            SELECT r.id, r.last_seq, count(m.id) AS n, coalesce(max(m.seq), 0) AS top,
                   count(DISTINCT m.seq) AS distinct_seqs
            FROM rooms r LEFT JOIN messages m ON m.room_id = r.id
            GROUP BY r.id, r.last_seq
            HAVING count(m.id) <> r.last_seq OR coalesce(max(m.seq), 0) <> r.last_seq
                OR count(DISTINCT m.seq) <> count(m.id)
            """
        )
        assert not broken, [dict(r) for r in broken]
        bad_members = await conn.fetchval(
            """
            SELECT count(*) FROM room_members rm JOIN rooms r ON r.id = rm.room_id
            WHERE rm.last_read_seq > r.last_seq OR rm.last_read_seq < 0
            """
        )
        assert bad_members == 0
        dm_sizes = await conn.fetch(
            """
            SELECT r.id, count(rm.user_id) AS n FROM rooms r
            LEFT JOIN room_members rm ON rm.room_id = r.id
            WHERE r.kind = 'direct' GROUP BY r.id HAVING count(rm.user_id) <> 2
            """
        )
        assert not dm_sizes, [dict(r) for r in dm_sizes]
    finally:
        await conn.close()
