"""Delivery confirmation: sent (ack) / delivered (`delivered` -> `delivery_receipt`) /
read (`mark_read` -> `read_receipt`), so a sender can show all three ticks."""

from __future__ import annotations

from chat_server.client import ChatClient
from tests.chat_helpers import api, call_error, call_ok, post_dm, wait_match


async def test_delivered_reaches_the_sender_and_the_read_positions(
    server, http, register, sio_connect
):
    alice = await register(server)
    bob = await register(server)
    message = await post_dm(http, server, alice, bob, "are you there?")
    room_id, seq = message["roomId"], message["seq"]
    a = await sio_connect(server, alice.access_token, events=("delivery_receipt", "read_receipt"))
    b = await sio_connect(server, bob.access_token)

    ack = await call_ok(b, "delivered", {"userId": alice.id, "seq": seq})
    assert ack["lastDeliveredSeq"] == seq
    receipt = (await wait_match(a, "delivery_receipt", lambda e: e["userId"] == bob.id))[0]
    assert receipt == {
        "roomId": room_id,
        "userId": bob.id,
        "lastDeliveredSeq": seq,
        "lastReadSeq": 0,
    }
    status, positions = await api(http, server, "GET", f"/api/rooms/{room_id}/reads", alice)
    assert status == 200
    assert positions["delivered"][bob.id] == seq
    assert positions["reads"][bob.id] == 0

    # Reading implies receiving; and pointers never move back.
    await call_ok(b, "mark_read", {"roomId": room_id, "seq": seq})
    read = (await wait_match(a, "read_receipt", lambda e: e["userId"] == bob.id))[0]
    assert read["lastReadSeq"] == seq and read["lastDeliveredSeq"] == seq
    ack = await call_ok(b, "delivered", {"roomId": room_id, "seq": 0})
    assert ack["lastDeliveredSeq"] == seq


async def test_delivered_bad_input_changes_nothing(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    eve = await register(server)
    message = await post_dm(http, server, alice, bob, "hi")
    b = await sio_connect(server, bob.access_token)
    e = await sio_connect(server, eve.access_token)
    await call_error(b, "delivered", {"roomId": message["roomId"], "seq": 99}, "validation_error")
    await call_error(b, "delivered", {"roomId": message["roomId"]}, "validation_error")
    # Someone outside the conversation learns nothing.
    await call_error(e, "delivered", {"roomId": message["roomId"], "seq": 1}, "not_found")
    status, positions = await api(
        http, server, "GET", f"/api/rooms/{message['roomId']}/reads", alice
    )
    assert status == 200
    assert positions["delivered"][bob.id] == 0


async def test_the_python_client_sends_delivery_receipts(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    first = await post_dm(http, server, alice, bob, "one")
    a = await sio_connect(server, alice.access_token, events=("delivery_receipt",))
    client = ChatClient(server.url, access_token=bob.access_token, refresh_token=bob.refresh_token)
    try:
        await client.connect()
        await post_dm(http, server, alice, bob, "two")
        # The offline DM (via sync/new_dm on connect) and the live one are both receipted.
        await wait_match(
            a,
            "delivery_receipt",
            lambda ev: ev["userId"] == bob.id and ev["lastDeliveredSeq"] == first["seq"] + 1,
        )
    finally:
        await client.close()
