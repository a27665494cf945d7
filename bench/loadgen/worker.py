"""One load-generator process: holds its share of the connections, sends at its share of
the rate, and timestamps deliveries and acks.

The coordinator (`bench.loadgen.pool`) talks to it over a `multiprocessing` pipe with small
command dicts; progress counters live in shared memory so the coordinator can print them
without a round trip. Every loop here has a count bound and a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import threading
import time
from array import array
from collections import Counter
from multiprocessing.connection import Connection
from typing import Any

import orjson

from bench.loadgen.protocol import CONNECTED, Handler, SioConnection

# Shared counters per worker (multiprocessing.Array of int64), by index.
C_CONNECTED, C_FAILED, C_CLOSED, C_DELIVERED, C_SENT, C_ACKED, C_ACK_ERR = range(7)
N_COUNTERS = 7

_CONTENT_KEY = '"content":"bench '
# Events whose latency is measured; anything else (`unread`, `presence`, ...) is ignored.
_MEASURED = ('["new_message"', '["new_dm"')
# A change to a message (docs/contract.md §12): `message_updated` {message, changeSeq}. Its
# message keeps the content it was sent with, so its latency is not read from the content:
# the recipient records (room, changeSeq, arrival) and the coordinator matches them with
# the senders' acks, which carry the changed message and its changeSeq (bench.loadgen.pool).
_UPDATED = '["message_updated"'
_CHANGE_SEQ_KEY = '"changeSeq":'
_ROOM_ID_KEY = '"roomId":"'


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft


class Worker(Handler):
    def __init__(self, wid: int, pipe: Connection, counters: Any):
        self.wid = wid
        self.pipe = pipe
        self.counters = counters
        self.base = wid * N_COUNTERS
        self.conns: dict[Any, SioConnection] = {}
        self.pending_connect: dict[Any, SioConnection] = {}
        self.connect_lat: array[float] = array("d")
        self.fail_reasons: Counter[str] = Counter()
        self.close_reasons: Counter[str] = Counter()
        self.deliveries: dict[str, array[float]] = {}
        # Each delivery's message send time (ns), parallel to `deliveries`: the coordinator
        # groups latencies by message (first / median / last recipient of each message).
        self.delivery_sent: dict[str, array[int]] = {}
        self.unmeasured = 0
        # `message_updated` arrivals: room (index into update_rooms), changeSeq, time ns.
        self.update_rooms: dict[str, int] = {}
        self.upd_room: array[int] = array("i")
        self.upd_seq: array[int] = array("q")
        self.upd_ns: array[int] = array("q")
        # Frames and bytes of the measured events by event, to compare payload sizes.
        self.frames: Counter[str] = Counter()
        self.frame_bytes: Counter[str] = Counter()
        self.acks: dict[int, float] = {}
        # Acks of changing events (a sender with a `cycle`): ack id -> send time ns, and
        # what their acks said: (roomId, changeSeq, send time ns) per change.
        self.changing: dict[int, int] = {}
        self.changed: list[tuple[str, int, int]] = []
        self.last_ack_at = 0.0
        self.ack_lat: array[float] = array("d")
        self.ack_err: Counter[str] = Counter()
        self.next_ack = 0
        self.slot_free: asyncio.Event | None = None
        self.stopping = False

    # -- Handler ------------------------------------------------------------------------

    def on_connected(self, conn: SioConnection) -> None:
        self.pending_connect.pop(conn.key, None)
        self.connect_lat.append((conn.t_connected - conn.t_start) * 1000.0)
        self.counters[self.base + C_CONNECTED] += 1
        if self.slot_free is not None:
            self.slot_free.set()

    def on_failed(self, conn: SioConnection, reason: str) -> None:
        if self.pending_connect.pop(conn.key, None) is None:
            return
        self.fail_reasons[_short(reason)] += 1
        self.counters[self.base + C_FAILED] += 1
        if self.slot_free is not None:
            self.slot_free.set()

    def on_closed(self, conn: SioConnection, reason: str) -> None:
        if not self.stopping:
            self.close_reasons[_short(reason)] += 1
            self.counters[self.base + C_CLOSED] += 1

    def on_event(self, conn: SioConnection, text: str) -> None:
        start = len(conn._ns_event)
        if not text.startswith(_MEASURED[0], start) and not text.startswith(_MEASURED[1], start):
            if text.startswith(_UPDATED, start):
                self._on_updated(text)
            return
        now = time.time_ns()
        self.frames["new_message"] += 1
        self.frame_bytes["new_message"] += len(text)
        k = text.find(_CONTENT_KEY)
        if k < 0:
            self.unmeasured += 1
            return
        k += len(_CONTENT_KEY)
        end = text.find('"', k)
        parts = text[k:end].split(" ", 2)
        if len(parts) < 2:
            self.unmeasured += 1
            return
        step, sent_ns = parts[0], parts[1]
        lat = self.deliveries.get(step)
        if lat is None:
            lat = self.deliveries[step] = array("d")
            self.delivery_sent[step] = array("q")
        sent = int(sent_ns)
        lat.append((now - sent) / 1e6)
        self.delivery_sent[step].append(sent)
        self.counters[self.base + C_DELIVERED] += 1

    def _on_updated(self, text: str) -> None:
        """A `message_updated` arrival: its room and changeSeq (the top-level one, last in
        the payload; the message's own equals it), matched to its change later."""
        now = time.time_ns()
        k = text.rfind(_CHANGE_SEQ_KEY)
        r = text.find(_ROOM_ID_KEY)
        if k < 0 or r < 0:
            self.unmeasured += 1
            return
        k += len(_CHANGE_SEQ_KEY)
        end = k
        while end < len(text) and text[end].isdigit():
            end += 1
        r += len(_ROOM_ID_KEY)
        room = text[r : text.find('"', r)]
        idx = self.update_rooms.setdefault(room, len(self.update_rooms))
        self.upd_room.append(idx)
        self.upd_seq.append(int(text[k:end] or 0))
        self.upd_ns.append(now)
        self.frames["message_updated"] += 1
        self.frame_bytes["message_updated"] += len(text)
        self.counters[self.base + C_DELIVERED] += 1

    def _acked(self, ack_id: int, t0: float, text: str) -> None:
        now = time.perf_counter()
        self.ack_lat.append((now - t0) * 1000.0)
        self.last_ack_at = time.monotonic()
        self.counters[self.base + C_ACKED] += 1
        sent_ns = self.changing.pop(ack_id, None) if self.changing else None
        if sent_ns is not None:
            # {ok, message}: the changed message, with its room and the change's number
            # (a no-op answers the message as it was: an earlier number, or 0).
            k = text.rfind(_CHANGE_SEQ_KEY)
            r = text.find(_ROOM_ID_KEY)
            if k >= 0 and r >= 0:
                k += len(_CHANGE_SEQ_KEY)
                end = k
                while end < len(text) and text[end].isdigit():
                    end += 1
                r += len(_ROOM_ID_KEY)
                room = text[r : text.find('"', r)]
                self.changed.append((room, int(text[k:end] or 0), sent_ns))

    def on_ack(self, conn: SioConnection, ack_id: int, text: str, start: int) -> None:
        t0 = self.acks.pop(ack_id, None)
        if t0 is None:
            return
        if text.startswith('[{"ok":true', start):
            self._acked(ack_id, t0, text)
            return
        try:
            body = orjson.loads(text[start:])[0]
            code = body.get("error", {}).get("code", "error") if isinstance(body, dict) else "?"
            if isinstance(body, dict) and body.get("ok") is True:
                self._acked(ack_id, t0, text)
                return
        except Exception:
            code = "malformed"
        self.ack_err[str(code)] += 1
        self.counters[self.base + C_ACK_ERR] += 1

    # -- commands -----------------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        # A thread blocks on the pipe, so its fd stays blocking for the (large) replies
        # the loop thread writes; add_reader would make it non-blocking.
        def reader() -> None:
            while True:
                try:
                    cmd = self.pipe.recv()
                except (EOFError, OSError):
                    cmd = {"cmd": "close"}
                loop.call_soon_threadsafe(queue.put_nowait, cmd)
                if cmd["cmd"] == "close":
                    return

        threading.Thread(target=reader, daemon=True).start()
        while True:
            cmd = await queue.get()
            name = cmd["cmd"]
            try:
                reply = await getattr(self, "cmd_" + name)(cmd)
            except Exception as exc:
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            self.pipe.send(reply)
            if name == "close":
                return

    async def cmd_connect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Open connections at `rate`/s with at most `concurrency` handshakes in flight."""
        loop = asyncio.get_running_loop()
        host, port = cmd["host"], cmd["port"]
        hosthdr = f"{host}:{port}"
        rate = max(float(cmd["rate"]), 1.0)
        concurrency = max(int(cmd["concurrency"]), 1)
        deadline = time.monotonic() + float(cmd["timeout"])
        self.slot_free = asyncio.Event()
        self.connect_lat = array("d")
        self.fail_reasons = Counter()
        t0 = time.monotonic()
        tasks: set[asyncio.Task[Any]] = set()
        # On loopback every worker connects from its own source address (127.0.0.2, .3,
        # ...), so the ephemeral port range (28k here) is per worker, not shared.
        local_addr = (f"127.0.0.{2 + self.wid}", 0) if host == "127.0.0.1" else None

        async def open_one(conn: SioConnection, port: int) -> None:
            try:
                await loop.create_connection(lambda: conn, host, port, local_addr=local_addr)
            except OSError as exc:
                conn.state = 4
                if self.pending_connect.pop(conn.key, None) is not None:
                    self.fail_reasons[_short(f"tcp: {exc.strerror or exc}")] += 1
                    self.counters[self.base + C_FAILED] += 1
                    self.slot_free.set()  # type: ignore[union-attr]

        for i, spec in enumerate(cmd["specs"]):
            due = t0 + i / rate
            while time.monotonic() < due:
                await asyncio.sleep(min(0.01, due - time.monotonic()))
            while len(self.pending_connect) >= concurrency and time.monotonic() < deadline:
                self.slot_free.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self.slot_free.wait(), 0.5)
            if time.monotonic() >= deadline:
                self.fail_reasons["not attempted: deadline"] += 1
                self.counters[self.base + C_FAILED] += 1
                continue
            # A spec may name its own port: several instances driven directly (no proxy).
            spec_port = int(spec.get("port", port))
            conn = SioConnection(
                spec["key"],
                self,
                hosthdr if spec_port == port else f"{host}:{spec_port}",
                cmd["path"],
                cmd["namespace"],
                spec["auth"],
                cmd["deflate"],
                meta=spec.get("rooms", ()),
            )
            self.conns[conn.key] = conn
            self.pending_connect[conn.key] = conn
            task = asyncio.ensure_future(open_one(conn, spec_port))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while self.pending_connect and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for conn in list(self.pending_connect.values()):
            self.fail_reasons["handshake timeout"] += 1
            self.counters[self.base + C_FAILED] += 1
            conn.close("handshake timeout")
        self.pending_connect.clear()
        self.slot_free = None
        return {
            "connected": len(self.connect_lat),
            "failed": sum(self.fail_reasons.values()),
            "fail_reasons": dict(self.fail_reasons),
            "lat": self.connect_lat.tobytes(),
        }

    async def cmd_send(self, cmd: dict[str, Any]) -> dict[str, Any]:
        """Send `rate`/s for `duration` s from the listed senders (round robin), open loop:
        message i is due at t0 + i/rate whatever happened to earlier ones."""
        step = str(cmd["step"])
        rate = float(cmd["rate"])
        duration = float(cmd["duration"])
        total = round(rate * duration)
        # A sender with a `cycle` ([[event, payload], ...]) changes messages instead of
        # sending them: its n-th event is cycle[n % len], sent as is (no stamp), and its
        # ack's changeSeq is recorded (see _acked).
        senders = [
            (
                self.conns.get(s["key"]),
                s["event"],
                s["payload"],
                s.get("target"),
                [orjson.dumps(c).decode() for c in s.get("cycle") or ()],
            )
            for s in cmd["senders"]
        ]
        turns = [0] * len(senders)
        pad = cmd.get("pad", "")
        use_cmid = bool(cmd.get("client_msg_id", True))
        self.ack_lat = array("d")
        self.ack_err = Counter()
        self.acks.clear()
        self.changing.clear()
        self.changed = []
        self.last_ack_at = 0.0
        sent = 0
        dead = 0
        sent_by_target: Counter[str] = Counter()
        max_lag = 0.0
        # Each worker's schedule is shifted by its phase so the workers' streams interleave
        # (W workers at R/W each must add up to one message every 1/R s, not W at once).
        t0 = float(cmd.get("start_at", time.monotonic())) + float(cmd.get("phase", 0.0))
        if t0 > time.monotonic():
            await asyncio.sleep(t0 - time.monotonic())
        hard_deadline = t0 + duration + 30.0
        i = 0
        n_senders = len(senders)
        while i < total and n_senders:
            now = time.monotonic()
            if now > hard_deadline:
                break
            due = min(total, int((now - t0) * rate) + 1)
            if i < due:
                lag = now - (t0 + i / rate)
                if lag > max_lag:
                    max_lag = lag
            while i < due:
                k = i % n_senders
                conn, event, payload, target, cycle = senders[k]
                i += 1
                if conn is None or conn.state != CONNECTED:
                    dead += 1
                    continue
                ns = time.time_ns()
                self.next_ack += 1
                if cycle:
                    frame = cycle[turns[k] % len(cycle)]
                    turns[k] += 1
                    self.changing[self.next_ack] = ns
                else:
                    tag = f"{self.wid}.{i}"
                    body = dict(payload)
                    body["content"] = f"bench {step} {ns} {tag}{pad}"
                    if use_cmid:
                        body["clientMsgId"] = f"{step}-{self.wid}-{i}-{ns}"
                    frame = orjson.dumps([event, body]).decode()
                self.acks[self.next_ack] = time.perf_counter()
                conn.emit(frame, self.next_ack)
                sent += 1
                sent_by_target[target] += 1
                self.counters[self.base + C_SENT] += 1
            next_due = t0 + i / rate
            await asyncio.sleep(max(0.0005, min(0.005, next_due - time.monotonic())))
        ack_deadline = time.monotonic() + float(cmd.get("ack_timeout", 10.0))
        while self.acks and time.monotonic() < ack_deadline:
            await asyncio.sleep(0.02)
        missing = len(self.acks)
        self.acks.clear()
        self.changing.clear()
        return {
            "sent": sent,
            "unsent_dead_sender": dead,
            "sent_by_target": dict(sent_by_target),
            "acked": len(self.ack_lat),
            "ack_err": dict(self.ack_err),
            "ack_missing": missing,
            "ack_lat": self.ack_lat.tobytes(),
            "max_send_lag_ms": max_lag * 1000.0,
            "elapsed_s": time.monotonic() - t0,
            "last_ack_at": self.last_ack_at,
            "changed": self.changed,
        }

    async def cmd_collect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        lat = self.deliveries.pop(str(cmd["step"]), array("d"))
        sent = self.delivery_sent.pop(str(cmd["step"]), array("q"))
        if cmd.get("reset_all"):
            self.deliveries.clear()
            self.delivery_sent.clear()
        # Every `message_updated` since the last collect (changes are matched to their
        # step by their acks, in the coordinator).
        updates = {
            "rooms": list(self.update_rooms),
            "room": self.upd_room.tobytes(),
            "seq": self.upd_seq.tobytes(),
            "ns": self.upd_ns.tobytes(),
        }
        self.update_rooms = {}
        self.upd_room, self.upd_seq, self.upd_ns = array("i"), array("q"), array("q")
        frame_bytes = {k: [n, self.frame_bytes[k]] for k, n in self.frames.items()}
        self.frames.clear()
        self.frame_bytes.clear()
        return {
            "count": len(lat),
            "lat": lat.tobytes(),
            "sent": sent.tobytes(),
            "unmeasured": self.unmeasured,
            "updates": updates,
            "frame_bytes": frame_bytes,
        }

    async def cmd_status(self, cmd: dict[str, Any]) -> dict[str, Any]:
        alive_by_target: Counter[str] = Counter()
        alive = 0
        for conn in self.conns.values():
            if conn.state == CONNECTED:
                alive += 1
                for t in conn.meta or ():
                    alive_by_target[t] += 1
        return {
            "alive": alive,
            "held": len(self.conns),
            "alive_by_target": dict(alive_by_target),
            "close_reasons": dict(self.close_reasons),
        }

    async def cmd_disconnect(self, cmd: dict[str, Any]) -> dict[str, Any]:
        self.stopping = True
        n = 0
        for conn in self.conns.values():
            if conn.state == CONNECTED:
                n += 1
            conn.close()
        self.conns.clear()
        await asyncio.sleep(0.2)
        self.stopping = False
        self.close_reasons.clear()
        self.deliveries.clear()
        self.delivery_sent.clear()
        await self.cmd_collect({"step": ""})  # and the message_updated arrivals
        return {"closed": n}

    async def cmd_close(self, cmd: dict[str, Any]) -> dict[str, Any]:
        return await self.cmd_disconnect(cmd)


def _short(reason: str) -> str:
    return reason if len(reason) <= 120 else reason[:117] + "..."


def worker_main(wid: int, pipe: Connection, counters: Any, cpus: list[int] | None) -> None:
    """Process entry point."""
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, set(cpus))
    raise_nofile()
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    runner(Worker(wid, pipe, counters).run())
