"""Baseline (a): a bare python-socketio broadcast server on aiohttp, uvloop + orjson.

No auth, no database, no validation: the ceiling of our stack. Same events and payload
shapes as the chat server, so the same load generator drives both:

- connect to `/chat` with auth `{rooms: [...], user: "<id>"}`: the socket enters those rooms
  and `user:<id>` (no auth: room `r0`).
- `send_message` {roomId, content, clientMsgId?} -> emit `new_message` {message} to the room
  (sender included, as the chat server does), then ack {ok: true, message}.
- `send_dm` {recipientId, content} -> `new_dm` to `user:<recipient>` and `user:<sender>`.
- `sync` -> ack {ok: true, rooms: {}} (lets Artillery open the namespace with an ack).

With --redis URL, instances share rooms through python-socketio's AsyncRedisManager (the
bench's `cluster` scenario runs several behind HAProxy, as it does ours).

Run: python bench/baselines/py_server.py --port 8101 [--redis redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import socketio
from aiohttp import web

NS = "/chat"


class OrjsonCodec:
    @staticmethod
    def dumps(obj: Any, **_: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(s: str | bytes, **_: Any) -> Any:
        return orjson.loads(s)


def build(redis_url: str | None = None) -> web.Application:
    sio = socketio.AsyncServer(
        async_mode="aiohttp",
        client_manager=socketio.AsyncRedisManager(redis_url) if redis_url else None,
        json=OrjsonCodec,
        cors_allowed_origins="*",
        ping_interval=25,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )
    seqs: dict[str, itertools.count[int]] = {}
    users: dict[str, str] = {}

    def message(sid: str, room: str, data: dict[str, Any]) -> dict[str, Any]:
        counter = seqs.get(room)
        if counter is None:
            counter = seqs[room] = itertools.count(1)
        return {
            "id": str(uuid.uuid4()),
            "roomId": room,
            "seq": next(counter),
            "userId": users.get(sid, sid),
            "username": "bench",
            "content": data.get("content", ""),
            "messageType": "text",
            "clientMsgId": data.get("clientMsgId"),
            "createdAt": datetime.now(UTC).isoformat(),
        }

    @sio.on("connect", namespace=NS)
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        auth = auth if isinstance(auth, dict) else {}
        for room in auth.get("rooms") or ["r0"]:
            await sio.enter_room(sid, str(room), namespace=NS)
        if auth.get("user"):
            users[sid] = str(auth["user"])
            await sio.enter_room(sid, "user:" + users[sid], namespace=NS)

    @sio.on("disconnect", namespace=NS)
    async def disconnect(sid: str, *_: Any) -> None:
        users.pop(sid, None)

    @sio.on("send_message", namespace=NS)
    async def send_message(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        room = str(data["roomId"])
        msg = message(sid, room, data)
        await sio.emit("new_message", {"message": msg}, room=room, namespace=NS)
        return {"ok": True, "message": msg}

    @sio.on("send_dm", namespace=NS)
    async def send_dm(sid: str, data: dict[str, Any]) -> dict[str, Any]:
        to = str(data["recipientId"])
        msg = message(sid, "dm", data)
        msg.update(senderId=users.get(sid, sid), recipientId=to)
        rooms = ["user:" + to, "user:" + users.get(sid, sid)]
        await sio.emit("new_dm", {"message": msg}, to=rooms, namespace=NS)
        return {"ok": True, "message": msg}

    @sio.on("sync", namespace=NS)
    async def sync(sid: str, data: Any = None) -> dict[str, Any]:
        return {"ok": True, "rooms": {}}

    app = web.Application()
    sio.attach(app)

    async def live(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app.router.add_get("/health/live", live)
    app.router.add_get("/health/ready", live)  # what HAProxy checks in the cluster scenario
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--redis", default=None, help="share rooms with other instances")
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    web.run_app(build(args.redis), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
