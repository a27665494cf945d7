"""Hostile input over Socket.IO, generated with hypothesis and sent through a real
python-socketio client (and raw Engine.IO packets where the client would refuse to build
them).

For every client event: wrong types, missing and unknown fields, huge strings and arrays,
deep nesting, unicode edge cases, binary attachments, unknown events, events before
authentication and floods. The server must never crash or log an unhandled error, never
ack `ok: true` for invalid input, keep the socket usable (or close it on purpose, for
packets that are not valid Socket.IO at all), leave other users' sockets alone, and bound
what it buffers (Engine.IO max payload, binary attachments).

hypothesis is synchronous: it runs in a worker thread and hands each call to the event
loop that runs the server and the clients.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import hypothesis
import pytest
import socketio
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st

from chat_server import metrics
from chat_server.api.keys import CONFIG, SIO
from chat_server.app import NAMESPACE_KEY
from chat_server.realtime.server import MAX_BINARY_ATTACHMENTS
from schemas.messages import MAX_CONTENT_CHARS, SEQ_MAX, SendMessageSchema
from schemas.text import UNPAIRED_SURROGATE_MESSAGE
from tests.chat_helpers import api, call, create_room, wait_match
from tests.conftest import LOBBY_ID

NS = "/chat"
EVENTS = (
    "authenticate",
    "send_message",
    "send_dm",
    "typing_start",
    "typing_stop",
    "join_room",
    "leave_room",
    "mark_read",
    "delivered",
    "sync",
)
EXAMPLES = 40
CALL_TIMEOUT_S = 10
# The answer to an event packet whose JSON cannot be decoded.
NOT_JSON = {
    "ok": False,
    "error": {"code": "validation_error", "message": "Payload is not valid JSON"},
}


def _settings(examples: int = EXAMPLES) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


class Bridge:
    """Run coroutines on the test's event loop from hypothesis' worker thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = CALL_TIMEOUT_S + 5) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


async def in_thread(fn: Callable[[Bridge], None]) -> None:
    await asyncio.to_thread(fn, Bridge(asyncio.get_running_loop()))


def unhandled_errors() -> float:
    return metrics.ERRORS.labels(where="socket")._value.get()


async def raw_call(client: socketio.AsyncClient, body: str, packet_type: str = "2") -> Any:
    """Send a hand-made event packet with an ack id; returns the ack or None on timeout."""
    got: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    ack_id = client._generate_ack_id(NS, lambda *a: got.done() or got.set_result(a))
    await client.eio.send(f"{packet_type}{NS},{ack_id}{body}")
    try:
        return await asyncio.wait_for(got, 3)
    except TimeoutError:
        return None


async def wait_closed(client: socketio.AsyncClient, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if not client.connected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the connection was not closed")


# -- strategies --------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    # The in-process client encodes with the server's orjson codec: 64-bit integers at most
    # (larger ones are sent by hand in test_hand_made_packets...).
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=25,
)
non_objects = json_values.filter(lambda v: not isinstance(v, dict))
# Strings a hostile client likes: controls, bidi overrides, zero-width, combining marks,
# non-characters, emoji, private use, quotes and markup.
EDGE_STRINGS = [
    "",
    " ",
    "\u202e",
    "\u200b\u200d\ufeff",
    "e\u0301" * 50,
    "\ufffe\uffff",
    "\U0001f600" * 10,
    "\U000f0000",
    "'; DROP TABLE messages; --",
    "<script>alert(1)</script>",
    "%s%n%x",
    "\\u0000",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "\r\n\r\n",
    "\x00",
    "\x1b[2J",
    "\x85",
    "\x7f",
    # Lone UTF-16 surrogates: a JS string cut inside an emoji (refused, never replaced).
    "\ud83d",
    "broken \ud83d emoji",
    "\udfff",
]
hostile_text = st.sampled_from(EDGE_STRINGS) | st.text(
    st.characters(exclude_categories=["Cs"]), max_size=200
)


def _not_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return True
    try:
        uuid.UUID(value)
    except ValueError:
        return True
    return False


bad_uuid = (json_values | st.sampled_from(["lobby", "1' OR '1'='1", "", "0" * 31])).filter(
    _not_uuid
)
bad_seq = (
    st.text(max_size=10)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
    | st.lists(st.integers(), max_size=3)
    | st.integers(min_value=-(2**63), max_value=-1)
    | st.integers(min_value=SEQ_MAX + 1, max_value=2**63 - 1)
)
control_char = st.sampled_from([chr(c) for c in (*range(0, 9), *range(11, 32), *range(127, 160))])
bad_content = (
    json_values.filter(lambda v: not isinstance(v, str))
    | st.builds(lambda n: "x" * n, st.integers(MAX_CONTENT_CHARS + 1, MAX_CONTENT_CHARS + 900))
    | st.builds(lambda a, c, b: a + c + b, hostile_text, control_char, hostile_text)
)
bad_token = (
    json_values.filter(lambda v: not isinstance(v, str))
    | st.just("")
    | st.builds(lambda n: "t" * n, st.integers(4097, 6000))
)
bad_message_type = json_values.filter(lambda v: v not in ("text", "image", "file"))
bad_client_msg_id = (
    json_values.filter(lambda v: v is not None and not isinstance(v, str))
    | st.just("")
    | st.builds(lambda n: "c" * n, st.integers(65, 300))
)
bad_rooms = (
    json_values.filter(lambda v: not isinstance(v, dict))
    | st.dictionaries(
        st.text(max_size=20).filter(_not_uuid), st.integers(0, 5), min_size=1, max_size=3
    )
    | st.dictionaries(st.just(LOBBY_ID), bad_seq, min_size=1)
    | st.builds(lambda n: {str(uuid.UUID(int=i + 1)): 0 for i in range(n)}, st.integers(501, 700))
)


def templates(ctx: dict[str, str]) -> dict[str, dict[str, Any]]:
    """A valid payload per event: each invalid case breaks exactly one thing in it."""
    return {
        "authenticate": {"token": ctx["token"]},
        "send_message": {"roomId": LOBBY_ID, "content": "hello"},
        "send_dm": {"recipientId": ctx["bob"], "content": "hello"},
        "typing_start": {"roomId": LOBBY_ID},
        "typing_stop": {"roomId": LOBBY_ID},
        "join_room": {"roomId": ctx["room"]},
        "leave_room": {"roomId": ctx["room"]},
        "mark_read": {"roomId": LOBBY_ID, "seq": 0},
        "delivered": {"roomId": LOBBY_ID, "seq": 0},
        "sync": {"rooms": {LOBBY_ID: 0}},
    }


FIELD_BREAKERS: dict[str, dict[str, st.SearchStrategy[Any]]] = {
    "authenticate": {"token": bad_token},
    "send_message": {
        "roomId": bad_uuid,
        "content": bad_content,
        "messageType": bad_message_type,
        "clientMsgId": bad_client_msg_id,
        "fileId": bad_uuid.filter(lambda v: v is not None),
    },
    "send_dm": {"recipientId": bad_uuid, "content": bad_content, "messageType": bad_message_type},
    "typing_start": {"roomId": bad_uuid},
    "typing_stop": {"roomId": bad_uuid},
    "join_room": {"roomId": bad_uuid},
    "leave_room": {"roomId": bad_uuid},
    "mark_read": {"roomId": bad_uuid, "seq": bad_seq},
    "delivered": {"roomId": bad_uuid, "seq": bad_seq},
    "sync": {"rooms": bad_rooms},
}
REQUIRED = {
    "authenticate": ["token"],
    "send_message": ["roomId"],
    "send_dm": ["recipientId"],
    "typing_start": ["roomId"],
    "typing_stop": ["roomId"],
    "join_room": ["roomId"],
    "leave_room": ["roomId"],
    "mark_read": ["roomId", "seq"],
    "delivered": ["roomId", "seq"],
    "sync": ["rooms"],
}


def invalid_payloads(event: str, template: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Payloads for `event` that its schema must refuse."""
    broken_field = st.sampled_from(sorted(FIELD_BREAKERS[event])).flatmap(
        lambda name: FIELD_BREAKERS[event][name].map(lambda bad: {**template, name: bad})
    )
    unknown_field = st.tuples(st.text(min_size=1, max_size=20), json_values).map(
        lambda kv: {**template, "x_" + kv[0]: kv[1]}
    )
    missing_field = st.sampled_from(REQUIRED[event]).map(
        lambda name: {k: v for k, v in template.items() if k != name}
    )
    huge_array = st.integers(500, 1500).map(lambda n: {**template, REQUIRED[event][0]: [0] * n})
    # orjson (the in-process client's encoder) stops at 255 levels; deeper is sent by hand.
    deep = st.integers(50, 240).map(lambda d: {**template, REQUIRED[event][0]: _nest(d)})
    return st.one_of(non_objects, broken_field, unknown_field, missing_field, huge_array, deep)


def _nest(depth: int) -> Any:
    value: Any = "x"
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


# -- fixtures ------------------------------------------------------------------------------


@pytest.fixture
async def arena(server, register, http, sio_connect):
    """alice (the attacker's socket), bob (a bystander in the lobby), a public room."""
    alice = await register(server)
    bob = await register(server)
    room = await create_room(http, server, bob)
    attacker = await sio_connect(server, alice.access_token, events=("disconnect", "auth_error"))
    bystander = await sio_connect(server, bob.access_token, events=("new_message", "disconnect"))
    return {
        "server": server,
        "alice": alice,
        "bob": bob,
        "room": room["id"],
        "attacker": attacker,
        "bystander": bystander,
        "http": http,
        "sio_connect": sio_connect,
    }


async def assert_bystander_fine(arena: dict[str, Any], text: str) -> None:
    """bob's socket is connected, can send, and receives what others send."""
    bystander, server = arena["bystander"], arena["server"]
    assert bystander.connected
    assert bystander.recorder.events["disconnect"] == []
    alice_again = await arena["sio_connect"](server, arena["alice"].access_token)
    ack = await call(alice_again, "send_message", {"roomId": LOBBY_ID, "content": text})
    assert ack["ok"] is True, ack
    await wait_match(bystander, "new_message", lambda e: e["message"]["content"] == text)


async def lobby_seq(arena: dict[str, Any]) -> int:
    status, body = await api(
        arena["http"], arena["server"], "GET", f"/api/rooms/{LOBBY_ID}", arena["bob"]
    )
    assert status == 200, body
    return int(body["lastSeq"])


# -- tests ---------------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS)
async def test_invalid_payloads_are_refused_and_the_socket_survives(arena, event):
    attacker = arena["attacker"]
    template = templates(
        {"token": arena["alice"].access_token, "bob": arena["bob"].id, "room": arena["room"]}
    )[event]
    seq_before = await lobby_seq(arena)
    errors_before = unhandled_errors()
    seen: list[str] = []

    def fuzz(bridge: Bridge) -> None:
        @_settings()
        @hypothesis.given(payload=invalid_payloads(event, template))
        def run(payload: Any) -> None:
            ack = bridge.run(call(attacker, event, payload))
            assert isinstance(ack, dict) and ack.get("ok") is False, (payload, ack)
            assert ack["error"]["code"] == "validation_error", (payload, ack)
            assert attacker.connected, payload
            seen.append(json.dumps(payload, default=repr)[:60])

        run()

    await in_thread(fuzz)
    assert len(seen) >= EXAMPLES // 2
    assert unhandled_errors() == errors_before
    # Nothing was stored, the attacker's socket still works, bob never noticed.
    assert await lobby_seq(arena) == seq_before
    ack = await call(attacker, "typing_stop", {"roomId": LOBBY_ID})
    assert ack["ok"] is True, ack
    await assert_bystander_fine(arena, f"after {event} fuzz")


async def test_hostile_text_is_stored_verbatim_or_refused_as_the_schema_says(arena):
    """Valid-looking messages with unicode edge cases: the server's verdict is the
    schema's verdict, and what is stored and delivered is exactly what was sent."""
    attacker, bystander = arena["attacker"], arena["bystander"]
    schema = SendMessageSchema()
    outcomes = {"stored": 0, "refused": 0}

    def fuzz(bridge: Bridge) -> None:
        @_settings(60)
        @hypothesis.given(content=hostile_text)
        def run(content: str) -> None:
            payload = {"roomId": LOBBY_ID, "content": content}
            ack = bridge.run(call(attacker, "send_message", payload))
            if schema.validate(payload):
                assert ack["ok"] is False and ack["error"]["code"] == "validation_error", ack
                outcomes["refused"] += 1
                return
            assert ack["ok"] is True, (content, ack)
            assert ack["message"]["content"] == content
            mid = ack["message"]["id"]
            bridge.run(wait_match(bystander, "new_message", lambda e: e["message"]["id"] == mid))
            got = [e for e in bystander.recorder.events["new_message"] if e["message"]["id"] == mid]
            assert got[0]["message"]["content"] == content
            outcomes["stored"] += 1

        run()

    await in_thread(fuzz)
    assert outcomes["stored"] > 5 and outcomes["refused"] > 5, outcomes
    # And over REST, byte for byte.
    status, body = await api(
        arena["http"],
        arena["server"],
        "GET",
        f"/api/rooms/{LOBBY_ID}/messages",
        arena["alice"],
        params={"limit": 100},
    )
    assert status == 200
    sent = {
        e["message"]["id"]: e["message"]["content"]
        for e in bystander.recorder.events["new_message"]
    }
    for message in body["messages"]:
        if message["id"] in sent:
            assert message["content"] == sent[message["id"]]


async def test_unknown_event_names_are_answered_and_harmless(arena):
    attacker = arena["attacker"]
    errors_before = unhandled_errors()
    names = st.text(max_size=80).filter(lambda n: n not in EVENTS) | st.sampled_from(
        [
            "connect",
            "disconnect",
            "connect_error",
            "__proto__",
            "constructor",
            "on_connect",
            "trigger_event",
            "_admit",
            "emit",
            "send_message ",
            "SEND_MESSAGE",
            "x" * 65,
        ]
    )

    def fuzz(bridge: Bridge) -> None:
        @_settings()
        @hypothesis.given(name=names, payload=json_values)
        def run(name: str, payload: Any) -> None:
            ack = bridge.run(call(attacker, name, payload))
            assert ack == {
                "ok": False,
                "error": {"code": "unknown_event", "message": "Unknown event"},
            }
            assert attacker.connected

        run()

    await in_thread(fuzz)
    assert unhandled_errors() == errors_before
    await assert_bystander_fine(arena, "after unknown events")


async def test_events_before_authentication_do_nothing(arena):
    server, sio_connect = arena["server"], arena["sio_connect"]
    anonymous = await sio_connect(server, None, events=("new_message", "auth_error"))
    ctx = {"token": "unused", "bob": arena["bob"].id, "room": arena["room"]}
    seq_before = await lobby_seq(arena)
    for event, payload in templates(ctx).items():
        if event == "authenticate":
            continue
        ack = await call(anonymous, event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "unauthenticated", (event, ack)
    # Garbage too: validation never runs before authentication.
    ack = await call(anonymous, "send_message", "garbage")
    assert ack["error"]["code"] == "unauthenticated"
    assert await lobby_seq(arena) == seq_before
    # The anonymous socket joined nothing: it gets no room traffic.
    await assert_bystander_fine(arena, "while an anonymous socket listens")
    assert anonymous.recorder.events["new_message"] == []
    # It can still authenticate afterwards.
    ack = await call(anonymous, "authenticate", {"token": arena["alice"].access_token})
    assert ack["ok"] is True, ack


async def test_binary_attachments_are_refused(arena):
    attacker = arena["attacker"]
    for event, payload in [
        ("send_message", {"roomId": LOBBY_ID, "content": b"hello"}),
        ("send_message", {"roomId": uuid.UUID(LOBBY_ID).bytes, "content": "hello"}),
        ("send_dm", {"recipientId": arena["bob"].id, "content": [b"\xff" * 100]}),
        ("sync", {"rooms": {LOBBY_ID: b"\x00"}}),
        ("authenticate", {"token": arena["alice"].access_token.encode()}),
        ("mark_read", b"\x00" * 1000),
    ]:
        ack = await call(attacker, event, payload)
        assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (event, ack)
        assert attacker.connected
    await assert_bystander_fine(arena, "after binary payloads")


@pytest.mark.parametrize(
    ("packet", "answered"),
    [
        # More attachments announced than the server will buffer for one packet.
        (
            f'5{MAX_BINARY_ATTACHMENTS + 1}-{NS},ACK["send_message",{{"content":'
            '{"_placeholder":true,"num":0}}]',
            True,
        ),
        ("5999999-" + NS + ',ACK["send_message",{}]', True),
        # Beyond what python-socketio's parser accepts: not even the header is readable.
        ("512345678901-" + NS + ',ACK["send_message",{}]', False),
        # A placeholder pointing at an attachment that does not exist.
        (f'51-{NS},ACK["send_message",{{"content":{{"_placeholder":true,"num":9}}}}]', True),
        # Nested deeper than Python's recursion limit when the attachment is put back.
        (
            f'51-{NS},ACK["send_message",{{"content":'
            + "[" * 950
            + '{"_placeholder":true,"num":0}'
            + "]" * 950
            + "}]",
            True,
        ),
    ],
)
async def test_hostile_binary_packets_close_that_connection_only(arena, packet, answered):
    """Closed on purpose; the ack is answered first whenever the packet's header could be
    read (docs/contract.md §6: every packet with an ack id is answered)."""
    attacker = arena["attacker"]
    errors_before = unhandled_errors()
    acks: list[Any] = []
    ack_id = attacker._generate_ack_id(NS, lambda *a: acks.append(a))
    await attacker.eio.send(packet.replace("ACK", str(ack_id)))
    for _ in range(MAX_BINARY_ATTACHMENTS + 2):
        await attacker.eio.send(b"\x00" * 1024)
    await wait_closed(attacker)
    # Packets on one connection arrive in order: an answer precedes the close.
    if answered:
        assert acks == [
            (
                {
                    "ok": False,
                    "error": {
                        "code": "validation_error",
                        "message": "Binary attachments are not accepted",
                    },
                },
            )
        ]
    else:
        assert acks == []
    assert unhandled_errors() == errors_before
    sio = arena["server"].app[SIO]
    for _ in range(40):
        if not sio._binary_packet:
            break
        await asyncio.sleep(0.05)
    assert not sio._binary_packet, "a half-received binary packet was kept"
    await assert_bystander_fine(arena, "after a hostile binary packet")


@pytest.mark.parametrize("depth", [1100, 20000])
async def test_nesting_beyond_the_parser_limit_is_answered(arena, depth):
    """Undecodable JSON in an event packet: the ack says so and the socket stays."""
    attacker = arena["attacker"]
    errors_before = unhandled_errors()
    ack = await raw_call(attacker, '["sync",{"rooms":' + "[" * depth + "]" * depth + "}]")
    assert ack == (NOT_JSON,), ack
    assert attacker.connected
    assert unhandled_errors() == errors_before
    await assert_bystander_fine(arena, f"after nesting {depth}")


async def test_nesting_within_the_parser_limit_is_a_validation_error(arena):
    attacker = arena["attacker"]
    ack = await raw_call(attacker, '["sync",{"rooms":' + "[" * 1000 + "]" * 1000 + "}]")
    assert ack is not None and ack[0]["error"]["code"] == "validation_error", ack
    ack = await raw_call(
        attacker, '["sync",{"rooms":{}, "x":' + '{"a":' * 900 + "1" + "}" * 900 + "}]"
    )
    assert ack is not None and ack[0]["error"]["code"] == "validation_error", ack
    assert attacker.connected


@pytest.mark.parametrize(
    "body",
    [
        R'["send_message",{"roomId":"LOBBY","content":"a\ud800b"}]',  # lone surrogate
        R'["send_message",{"roomId":"LOBBY","content":"\u0000"}]',
        R'["send_message",{"roomId":"LOBBY","content":"x"},{"extra":"argument"}]',
        R'["send_message",{"roomId":"LOBBY","content":1e999}]',
        R'["send_message",{"roomId":"LOBBY","content":"x","roomId":"other"}]',
        R'["mark_read",{"roomId":"LOBBY","seq":123456789012345678901234567890}]',
        R'["sync",{"rooms":{"LOBBY":-1e-400}}]',
    ],
)
async def test_hand_made_packets_are_always_answered(arena, body):
    """Things the python client cannot produce: the server answers each with an error
    (docs/contract.md §6: every packet with an ack id is answered) and keeps the socket."""
    attacker = arena["attacker"]
    errors_before = unhandled_errors()
    seq_before = await lobby_seq(arena)
    ack = await raw_call(attacker, body.replace("LOBBY", LOBBY_ID))
    assert ack is not None, "no answer"
    assert ack[0]["ok"] is False, ack
    assert ack[0]["error"]["code"] == "validation_error", ack
    assert attacker.connected
    assert await lobby_seq(arena) == seq_before
    assert unhandled_errors() == errors_before
    await assert_bystander_fine(arena, "after a hand-made packet")


async def test_a_lone_surrogate_is_refused_by_the_text_policy(arena):
    attacker = arena["attacker"]
    body = R'["send_message",{"roomId":"LOBBY","content":"a\ud800b"}]'
    ack = await raw_call(attacker, body.replace("LOBBY", LOBBY_ID))
    assert ack is not None
    assert ack[0]["error"]["fields"] == {"content": [UNPAIRED_SURROGATE_MESSAGE]}, ack


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_1mb_payload_closes_only_that_connection(arena, transport):
    server = arena["server"]
    limit = server.app[CONFIG].max_socket_payload_bytes
    assert limit == 64 * 1024
    assert server.app[SIO].eio.max_http_buffer_size == limit
    attacker = await arena["sio_connect"](
        server, arena["alice"].access_token, transports=[transport]
    )
    seq_before = await lobby_seq(arena)
    await attacker.emit(
        "send_message", {"roomId": LOBBY_ID, "content": "z" * 1_000_000}, namespace=NS
    )
    await wait_closed(attacker, timeout=10)
    assert await lobby_seq(arena) == seq_before
    await assert_bystander_fine(arena, f"after 1 MB over {transport}")


async def test_a_flood_of_events_is_absorbed(start_server, register, sio_connect, http):
    """Hundreds of events fired without waiting: every one is answered (typing beyond its
    limit with rate_limited), nothing leaks, others are unaffected."""
    server = await start_server(rate_limit_typing="50/minute")
    alice, bob = await register(server), await register(server)
    attacker = await sio_connect(server, alice.access_token)
    bystander = await sio_connect(server, bob.access_token, events=("new_message", "user_typing"))
    acks: list[Any] = []
    done = asyncio.Event()
    total = 400

    def on_ack(*args: Any) -> None:
        acks.append(args[0] if args else None)
        if len(acks) == total:
            done.set()

    for i in range(total):
        if i % 4 == 0:
            await attacker.emit("typing_start", {"roomId": LOBBY_ID}, namespace=NS, callback=on_ack)
        elif i % 4 == 1:
            await attacker.emit("no_such_event", {"i": i}, namespace=NS, callback=on_ack)
        elif i % 4 == 2:
            await attacker.emit("send_message", {"roomId": "x" * i}, namespace=NS, callback=on_ack)
        else:
            await attacker.emit("sync", {"rooms": {LOBBY_ID: 0}}, namespace=NS, callback=on_ack)
    await asyncio.wait_for(done.wait(), 30)
    codes = [a["error"]["code"] if not a["ok"] else "ok" for a in acks]
    assert codes.count("rate_limited") >= 40, codes
    assert codes.count("unknown_event") == total // 4
    assert codes.count("validation_error") == total // 4
    assert codes.count("ok") >= total // 4 + 10
    # Typing announcements were bounded by the limit, not one per event.
    assert len(bystander.recorder.events["user_typing"]) <= 50
    ack = await call(bystander, "send_message", {"roomId": LOBBY_ID, "content": "still here"})
    assert ack["ok"] is True
    assert attacker.connected


async def test_connection_churn_leaves_no_state_behind(server, register, sio_connect):
    ns = server.app[NAMESPACE_KEY]
    user = await register(server)
    keep = await sio_connect(server, user.access_token)
    baseline = len(ns.sockets)
    clients = [await sio_connect(server, user.access_token if i % 2 else None) for i in range(30)]
    assert len(ns.sockets) == baseline + 30
    for client in clients:
        await client.disconnect()
    for _ in range(100):
        if len(ns.sockets) == baseline:
            break
        await asyncio.sleep(0.05)
    assert len(ns.sockets) == baseline
    presence = server.app[NAMESPACE_KEY].services.presence
    assert await presence.registry.count(user.id) == 1
    assert keep.connected
