"""A bot as a bot author writes it, run by tests/e2e/test_client_install.py inside a fresh
virtualenv that has only the `chat-client` distribution: log in, connect, say it is ready,
wait for a message from someone else, answer it, print what happened as JSON.

Usage: python client_bot.py URL USERNAME PASSWORD ROOM_ID
"""

import asyncio
import json
import sys

from chat_client import ChatClient

# Bounds every wait of the bot, so a broken client fails the test instead of hanging it.
WAIT_S = 30


async def main(url: str, username: str, password: str, room_id: str) -> None:
    client = await ChatClient.login(url, username, password)
    async with client:
        await client.connect()
        print("READY", flush=True)
        async with asyncio.timeout(WAIT_S):
            while True:
                message = await client.next_message()
                if message["roomId"] == room_id and message["userId"] != client.user_id:
                    break
            reply = await client.send(room_id, "pong: " + message["content"])
        print(json.dumps({"received": message, "sent": reply}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
