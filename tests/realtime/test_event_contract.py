"""The emitted-payload check (tests/event_contract.py) catches what breaks the documents.

The shared `sio_connect` clients are `CheckedClient`s, so every other test using them
already holds the server's events and acks to `/api/asyncapi.json`. This file owns the proof
that the check itself reports drift (it would otherwise pass whatever the server sends);
it must not test the server's behaviour, which the other realtime tests do."""

from __future__ import annotations

from typing import Any

from chat_server.api.keys import SIO
from tests.conftest import LOBBY_ID, EventRecorder
from tests.event_contract import CheckedClient, contract
from tests.realtime.conftest import NS, call

ROOM_ID = "00000000-0000-4000-8000-00000000abcd"
USER_ID = "00000000-0000-4000-8000-00000000dcba"


async def test_checked_client_reports_events_that_break_the_document(server, register):
    user = await register(server)
    client = CheckedClient(reconnection=False)
    recorder = EventRecorder(client, "not_documented", "presence", "user_left")
    await client.connect(
        server.url, namespaces=[NS], auth={"token": user.access_token}, transports=["websocket"]
    )
    try:
        sio = server.app[SIO]
        await sio.emit("not_documented", {"x": 1}, namespace=NS)
        await sio.emit("presence", {"userId": "not-a-uuid", "status": "online"}, namespace=NS)
        await sio.emit("user_left", {"roomId": ROOM_ID, "userId": USER_ID}, namespace=NS)
        for name in ("not_documented", "presence", "user_left"):
            await recorder.wait_for(name)
    finally:
        await client.disconnect()

    # Passed on untouched, whatever the verdict.
    assert recorder.events["presence"] == [{"userId": "not-a-uuid", "status": "online"}]
    problems = sorted(client.contract_violations)
    assert len(problems) == 2, problems
    assert problems[0].startswith("event 'not_documented' is not in /api/asyncapi.json")
    assert problems[1].startswith("event 'presence' does not match")
    for expected in ('"not-a-uuid" is not a "uuid"', '"username" is a required property'):
        assert expected in problems[1], problems[1]


async def test_checked_client_checks_acks(server, register):
    user = await register(server)
    client = CheckedClient(reconnection=False)
    await client.connect(
        server.url, namespaces=[NS], auth={"token": user.access_token}, transports=["websocket"]
    )
    try:
        ack = await call(client, "send_message", {"roomId": LOBBY_ID, "content": "hi"})
        assert ack["ok"] is True, ack
        refused = await call(client, "no_such_event", {})
        assert refused["error"]["code"] == "unknown_event"
    finally:
        await client.disconnect()
    assert client.contract_violations == []


def test_ack_shapes_outside_the_document_are_reported():
    checks = contract()
    ok_without_result: dict[str, Any] = {"ok": True}
    assert '"message" is a required property' in str(
        checks.check_ack("send_message", (ok_without_result,))
    )
    extra = {"ok": False, "error": {"code": "forbidden", "message": "No"}, "debug": "x"}
    assert checks.check_ack("send_message", (extra,)) is not None
    assert checks.check_ack("no_such_event", ({"ok": True},)) is not None
    assert checks.check_ack("send_message", ()) is not None
    refused = {"ok": False, "error": {"code": "forbidden", "message": "No"}}
    assert checks.check_ack("send_message", (refused,)) is None
    assert checks.check_event("user_left", ({"roomId": ROOM_ID, "userId": USER_ID},)) is None
    assert checks.check_event("user_left", ({"roomId": ROOM_ID},)) is not None
    assert checks.check_event("user_left", ()) is not None
