from tests.conftest import LOBBY_ID


async def test_two_clients_chat_in_the_lobby(server, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=("new_message",))
    b = await sio_connect(server, bob.access_token, events=("new_message",))
    ack = await a.call("send_message", {"roomId": LOBBY_ID, "content": "hi bob"}, namespace="/chat")
    assert ack["ok"] is True, ack
    assert ack["message"]["content"] == "hi bob"
    got = await b.recorder.wait_for("new_message")
    assert got[0]["message"]["id"] == ack["message"]["id"]
