"""Every client event gets an answer (issue 14, docs/contract.md §6).

- A failing event sent without an ack callback gets an `error` {code, message} event;
  a successful one gets nothing.
- A socket authenticated in the handshake receives `authenticated` {userId, username}.
- An event packet the JSON decoder refuses is still answered: a lone UTF-16 surrogate
  (`"\\ud800"`, a JS string cut inside an emoji) is a validation error naming the field,
  undecodable JSON is a validation error, and the socket stays usable.

Raw packets are written on the real WebSocket with `client.eio.send`: the python client
would not build them.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import socketio

from chat_server.realtime import server as server_module
from schemas.text import UNPAIRED_SURROGATE_MESSAGE
from tests.chat_helpers import quiet, wait_match
from tests.conftest import LOBBY_ID
from tests.realtime.conftest import ACK_TIMEOUT_S, NS, call, lobby_last_seq, send

# A lobby message whose content ends in the first half of an emoji, as JSON text.
BROKEN_EMOJI = json.dumps(["send_message", {"roomId": LOBBY_ID, "content": "hi \ud83d"}])


async def raw_call(client: socketio.AsyncClient, body: str) -> Any:
    """Write `42/chat,<id><body>` with a fresh ack id and return the ack's arguments."""
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    ack_id = client._generate_ack_id(NS, lambda *a: got.done() or got.set_result(a))
    await client.eio.send(f"2{NS},{ack_id}{body}")
    return await asyncio.wait_for(got, ACK_TIMEOUT_S)


async def test_a_failed_event_without_ack_gets_an_error_event(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token, events=("error",))

    await client.emit("send_message", {"roomId": "nope", "content": "x"}, namespace=NS)
    await client.emit("no_such_event", {}, namespace=NS)
    await client.emit("connect", {}, namespace=NS)  # reserved name: refused before handlers

    got = await client.recorder.wait_for("error", 3)
    assert got[0] == {"code": "validation_error", "message": "Invalid input"}
    assert got[1:] == [{"code": "unknown_event", "message": "Unknown event"}] * 2
    assert client.connected


def test_the_library_hooks_are_recognised():
    """`error` events and the handshake's `authenticated` rely on python-socketio's private
    `_handle_event_internal` and `_handle_connect`; an upgrade that changes them turns
    those off (with a warning): this test says so first."""
    assert server_module._DISPATCH_KNOWN
    assert server_module._CONNECT_KNOWN


async def test_a_successful_event_without_ack_gets_no_error(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token, events=("error", "new_message"))

    await client.emit("send_message", {"roomId": LOBBY_ID, "content": "no ack"}, namespace=NS)
    await wait_match(client, "new_message", lambda e: e["message"]["content"] == "no ack")
    await quiet(client, "error")


async def test_the_error_event_goes_to_the_failing_socket_only(server, register, sio_connect):
    alice = await register(server)
    failing = await sio_connect(server, alice.access_token, events=("error",))
    other_tab = await sio_connect(server, alice.access_token, events=("error",))

    await failing.emit("typing_start", {"roomId": 7}, namespace=NS)

    await failing.recorder.wait_for("error")
    await quiet(other_tab, "error")


async def test_an_event_with_an_ack_gets_no_error_event(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token, events=("error",))

    ack = await call(client, "send_message", {"roomId": "nope"})

    assert ack["error"]["code"] == "validation_error"
    await quiet(client, "error")


async def test_a_handshake_authenticated_socket_receives_authenticated(
    server, register, sio_connect
):
    alice = await register(server)

    client = await sio_connect(server, alice.access_token, events=("authenticated", "unread"))

    got = await client.recorder.wait_for("authenticated")
    assert got == [{"userId": alice.id, "username": alice.username}]
    await client.recorder.wait_for("unread")


async def test_a_token_less_socket_is_authenticated_only_by_the_event(
    server, register, sio_connect
):
    alice = await register(server)
    client = await sio_connect(server, None, events=("authenticated",))
    await quiet(client, "authenticated")

    ack = await call(client, "authenticate", {"token": alice.access_token})

    assert ack["ok"] is True
    got = await client.recorder.wait_for("authenticated")
    assert got == [{"userId": alice.id, "username": alice.username}]


async def test_a_lone_surrogate_is_refused_with_a_field_error(server, register, sio_connect, http):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token, events=("disconnect",))
    before = await lobby_last_seq(http, server, alice)

    (ack,) = await raw_call(client, BROKEN_EMOJI)

    assert ack["ok"] is False
    assert ack["error"]["code"] == "validation_error"
    assert ack["error"]["fields"] == {"content": [UNPAIRED_SURROGATE_MESSAGE]}
    # Nothing stored; the socket is fine and the next message takes the next seq.
    assert (await send(client, "fixed text"))["seq"] == before + 1
    assert client.recorder.events["disconnect"] == []


async def test_lone_surrogates_anywhere_in_a_payload_are_refused(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token)
    bodies = {
        "key": R'["send_message",{"roomId":"LOBBY","content":"x","\udc00":1}]',
        "token": R'["authenticate",{"token":"\ud800"}]',
        "sync key": R'["sync",{"rooms":{"\udbff":0}}]',
        "clientMsgId": R'["send_message",{"roomId":"LOBBY","content":"x","clientMsgId":"\ud800"}]',
        "event name": R'["send_\ud800",{}]',
    }
    for case, body in bodies.items():
        (ack,) = await raw_call(client, body.replace("LOBBY", LOBBY_ID))
        assert ack["ok"] is False, (case, ack)
        expected = "unknown_event" if case == "event name" else "validation_error"
        assert ack["error"]["code"] == expected, (case, ack)
    assert client.connected


async def test_a_lone_surrogate_without_ack_gets_an_error_event(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token, events=("error",))

    await client.eio.send(f"2{NS},{BROKEN_EMOJI}")

    (error,) = await client.recorder.wait_for("error")
    assert error == {"code": "validation_error", "message": UNPAIRED_SURROGATE_MESSAGE}


async def test_undecodable_json_is_answered_and_the_socket_stays(server, register, sio_connect):
    alice = await register(server)
    client = await sio_connect(server, alice.access_token, events=("error", "disconnect"))

    for body in ['["send_message",{', '["sync",NaN]', "[" * 1100 + "]" * 1100, "{]"]:
        (ack,) = await raw_call(client, body)
        assert ack == {
            "ok": False,
            "error": {"code": "validation_error", "message": "Payload is not valid JSON"},
        }, body
    await client.eio.send(f'2{NS},["send_message",{{')
    (error,) = await client.recorder.wait_for("error")
    assert error == {"code": "validation_error", "message": "Payload is not valid JSON"}

    await send(client, "still connected")
    assert client.recorder.events["disconnect"] == []


async def test_a_lone_surrogate_in_the_handshake_token_is_an_invalid_token(server, http):
    """Over raw long-polling: the CONNECT packet's auth holds a lone surrogate."""
    base = f"{server.url}/socket.io/?EIO=4&transport=polling"
    async with http.get(base) as resp:
        url = f"{base}&sid={json.loads((await resp.text())[1:])['sid']}"
    async with http.post(url, data=f'40{NS},{{"token":"x\\ud800"}}') as resp:
        assert resp.status == 200
    async with http.get(url) as resp:
        packets = (await resp.text()).split("\x1e")
    refusal = next(p for p in packets if p.startswith(f"44{NS},"))
    assert json.loads(refusal[len(f"44{NS},") :])["data"]["code"] == "invalid_token", packets
