"""Bad input over the socket: every case gets a clear error, nothing is stored, the
connection stays usable where that makes sense and the server keeps serving everyone."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from chat_server.api.keys import CONFIG
from schemas.messages import MAX_CLIENT_MSG_ID, MAX_CONTENT_CHARS
from tests.conftest import LOBBY_ID
from tests.realtime.conftest import call, history, lobby_last_seq, send

BAD_SEND_PAYLOADS = {
    "no payload": None,
    "string payload": "hello",
    "list payload": [LOBBY_ID, "hello"],
    "number payload": 42,
    "missing roomId": {"content": "hello"},
    "missing content": {"roomId": LOBBY_ID},
    "roomId as number": {"roomId": 1, "content": "hello"},
    "roomId as object": {"roomId": {"id": LOBBY_ID}, "content": "hello"},
    "non-UUID roomId": {"roomId": "lobby", "content": "hello"},
    "SQL in roomId": {"roomId": "1' OR '1'='1", "content": "hello"},
    "content as number": {"roomId": LOBBY_ID, "content": 12345},
    "content as list": {"roomId": LOBBY_ID, "content": ["hello"]},
    "content null": {"roomId": LOBBY_ID, "content": None},
    "empty content": {"roomId": LOBBY_ID, "content": ""},
    "blank content": {"roomId": LOBBY_ID, "content": " \n\t "},
    "content too long": {"roomId": LOBBY_ID, "content": "x" * (MAX_CONTENT_CHARS + 1)},
    "NUL in content": {"roomId": LOBBY_ID, "content": "a\x00b"},
    "bell in content": {"roomId": LOBBY_ID, "content": "ding\x07"},
    "escape in content": {"roomId": LOBBY_ID, "content": "\x1b[31mred"},
    "DEL in content": {"roomId": LOBBY_ID, "content": "del\x7f"},
    "C1 control in content": {"roomId": LOBBY_ID, "content": "c1\x85"},
    "unknown messageType": {"roomId": LOBBY_ID, "content": "hello", "messageType": "system"},
    "clientMsgId as number": {"roomId": LOBBY_ID, "content": "hello", "clientMsgId": 7},
    "clientMsgId too long": {
        "roomId": LOBBY_ID,
        "content": "hello",
        "clientMsgId": "c" * (MAX_CLIENT_MSG_ID + 1),
    },
    "empty clientMsgId": {"roomId": LOBBY_ID, "content": "hello", "clientMsgId": ""},
    "unknown field": {"roomId": LOBBY_ID, "content": "hello", "isAdmin": True},
}


@pytest.fixture
async def alice_socket(server, register, sio_connect):
    alice = await register(server)
    return alice, await sio_connect(server, alice.access_token, events=("disconnect",))


@pytest.mark.parametrize("case", list(BAD_SEND_PAYLOADS))
async def test_bad_send_message_payloads_are_refused(server, alice_socket, http, case):
    alice, client = alice_socket
    before = await lobby_last_seq(http, server, alice)

    ack = await call(client, "send_message", BAD_SEND_PAYLOADS[case])

    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == "validation_error"
    assert ack["error"]["message"]
    if isinstance(BAD_SEND_PAYLOADS[case], dict):
        assert ack["error"]["fields"], ack
    assert await lobby_last_seq(http, server, alice) == before
    # The same connection still works, and the valid message is the very next seq.
    assert (await send(client, "valid after bad input"))["seq"] == before + 1
    assert client.recorder.events["disconnect"] == []


async def test_field_errors_name_the_wire_fields(alice_socket):
    _, client = alice_socket
    ack = await call(client, "send_message", {"roomId": "nope", "content": ""})
    assert set(ack["error"]["fields"]) == {"roomId", "content"}


async def test_unknown_room_is_not_found(server, alice_socket, http):
    alice, client = alice_socket
    before = await lobby_last_seq(http, server, alice)

    ack = await call(client, "send_message", {"roomId": str(uuid.uuid4()), "content": "hello"})

    assert ack["ok"] is False
    assert ack["error"]["code"] == "not_found"
    assert (await send(client, "still works"))["seq"] == before + 1


async def test_content_limits_are_inclusive(alice_socket):
    _, client = alice_socket
    longest = await send(client, "y" * MAX_CONTENT_CHARS)
    assert len(longest["content"]) == MAX_CONTENT_CHARS
    # Multi-byte characters count as characters, not bytes.
    emoji = await send(client, "🎉" * MAX_CONTENT_CHARS)
    assert emoji["content"] == "🎉" * MAX_CONTENT_CHARS
    tabs = await send(client, "a\tb\nc")
    assert tabs["content"] == "a\tb\nc"


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"rooms": []},
        {"rooms": {"not-a-uuid": 0}},
        {"rooms": {LOBBY_ID: -1}},
        {"rooms": {LOBBY_ID: "5"}},
        {"rooms": {LOBBY_ID: True}},
        {"rooms": {LOBBY_ID: 1.5}},
        {"rooms": {LOBBY_ID: 2**63}},
        {"rooms": {str(uuid.uuid4()): 0 for _ in range(501)}},
    ],
)
async def test_bad_sync_payloads_are_refused(alice_socket, payload):
    _, client = alice_socket

    ack = await call(client, "sync", payload)

    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == "validation_error"
    assert (await call(client, "sync", {"rooms": {LOBBY_ID: 0}}))["ok"] is True


@pytest.mark.parametrize("name", ["no_such_event", "on_connect", "_admit", "__init__", "x" * 100])
async def test_unknown_events_are_answered(alice_socket, name):
    _, client = alice_socket

    ack = await call(client, name, {"roomId": LOBBY_ID, "content": "hello"})

    assert ack == {"ok": False, "error": {"code": "unknown_event", "message": "Unknown event"}}
    await send(client, "still works")


@pytest.mark.parametrize("name", ["connect", "disconnect"])
async def test_lifecycle_event_names_from_a_client_are_refused(server, alice_socket, http, name):
    alice, client = alice_socket
    before = await lobby_last_seq(http, server, alice)

    ack = await call(client, name, {"token": alice.access_token})
    await client.emit(name, {"token": "x"}, namespace="/chat")  # without an ack as well

    assert ack["ok"] is False
    assert ack["error"]["code"] == "unknown_event"
    assert (await send(client, "still connected"))["seq"] == before + 1
    assert client.recorder.events["disconnect"] == []


async def test_huge_payload_closes_that_connection_only(
    server, register, alice_socket, sio_connect, http
):
    alice, client = alice_socket
    bob = await register(server)
    other = await sio_connect(server, bob.access_token, events=("new_message",))
    before = await lobby_last_seq(http, server, alice)
    huge = "z" * (server.app[CONFIG].max_socket_payload_bytes + 1024)

    await client.emit("send_message", {"roomId": LOBBY_ID, "content": huge}, namespace="/chat")

    await client.recorder.wait_for("disconnect")
    assert not client.connected
    assert await lobby_last_seq(http, server, alice) == before
    sent = await send(other, "the server keeps serving others")
    assert sent["seq"] == before + 1
    got = await other.recorder.wait_for("new_message")
    assert got[0]["message"]["id"] == sent["id"]


@pytest.mark.parametrize(
    "body",
    [
        '["send_message",{',  # truncated JSON
        "[\"send_message\",{'roomId': 1}]",  # not JSON at all
    ],
)
async def test_undecodable_event_packets_are_answered(server, alice_socket, http, body):
    """docs/contract.md §6: every packet with an ack id is answered, undecodable text included;
    the answer is final (a validation error) and the connection stays usable."""
    alice, client = alice_socket
    before = await lobby_last_seq(http, server, alice)
    got: asyncio.Future[tuple[object, ...]] = asyncio.get_running_loop().create_future()
    ack_id = client._generate_ack_id("/chat", lambda *a: got.done() or got.set_result(a))

    await client.eio.send(f"2/chat,{ack_id}{body}")

    (ack,) = await asyncio.wait_for(got, 10)
    assert ack == {
        "ok": False,
        "error": {"code": "validation_error", "message": "Payload is not valid JSON"},
    }
    assert (await send(client, "still connected"))["seq"] == before + 1
    assert client.recorder.events["disconnect"] == []


@pytest.mark.parametrize(
    "raw",
    [
        "9/chat,",  # unknown packet type
        "garbage",
    ],
)
async def test_malformed_packets_close_that_connection_only(
    server, register, alice_socket, sio_connect, http, raw
):
    alice, client = alice_socket
    bob = await register(server)
    other = await sio_connect(server, bob.access_token)
    before = await lobby_last_seq(http, server, alice)

    await client.eio.send(raw)

    await client.recorder.wait_for("disconnect")
    assert (await send(other, "server still serving"))["seq"] == before + 1


@pytest.mark.parametrize(
    "body",
    ['{"not":"a list"}', "[]", "[1,2]", "[null]", '[{"event":"send_message"}]'],
)
async def test_event_packets_without_a_name_get_unknown_event(alice_socket, body):
    """Well-formed event packets whose event name is missing or not a string."""
    _, client = alice_socket
    acks: list[object] = []
    got = asyncio.Event()

    def on_ack(*args: object) -> None:
        acks.append(args)
        got.set()

    ack_id = client._generate_ack_id("/chat", on_ack)

    await client.eio.send(f"2/chat,{ack_id}{body}")

    await asyncio.wait_for(got.wait(), 5)
    assert acks == [
        ({"ok": False, "error": {"code": "unknown_event", "message": "Unknown event"}},)
    ]
    await send(client, "still works")


async def test_bad_input_stores_nothing(server, alice_socket, http):
    alice, client = alice_socket
    before = await history(http, server, alice, limit=100)
    for payload in BAD_SEND_PAYLOADS.values():
        await call(client, "send_message", payload)
    after = await history(http, server, alice, limit=100)
    assert after == before
