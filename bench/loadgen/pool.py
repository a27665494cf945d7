"""The coordinator side: spawns worker processes, splits connections and send rates among
them, prints progress while they work and merges their answers."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import sys
import time
from array import array
from collections import Counter
from multiprocessing.connection import Connection, wait
from typing import Any

from bench.loadgen.worker import (
    C_ACK_ERR,
    C_ACKED,
    C_CLOSED,
    C_CONNECTED,
    C_DELIVERED,
    C_FAILED,
    C_SENT,
    N_COUNTERS,
    worker_main,
)

PROGRESS_EVERY_S = 2.0
# Time for the send command to reach every worker before their shared schedule starts.
SEND_START_DELAY_S = 0.1


def _floats(raw: bytes) -> array[float]:
    a = array("d")
    a.frombytes(raw)
    return a


def per_message(sent: array[int], lat: array[float]) -> dict[str, list[float]]:
    """Each message's first, median and last delivery latency (ms), grouped by its send
    time: a message late for every recipient (the server's loop stalled) looks different
    from one whose last recipients are late (a long fan-out)."""
    by_msg: dict[int, list[float]] = {}
    for s, v in zip(sent, lat, strict=True):
        by_msg.setdefault(s, []).append(v)
    first: list[float] = []
    median: list[float] = []
    last: list[float] = []
    for values in by_msg.values():
        values.sort()
        first.append(values[0])
        median.append(values[len(values) // 2])
        last.append(values[-1])
    return {"first": sorted(first), "median": sorted(median), "last": sorted(last)}


# A step's changes: (roomId, changeSeq) -> the send time (ns) of the event that made it.
Changes = dict[tuple[str, int], int]


def changes_of(changed: list[tuple[str, int, int]]) -> dict[str, Any]:
    """The changes a step's acks report ((roomId, changeSeq, send ns) each): one per
    distinct changeSeq. An ack answering a no-op carries the message as it was (changeSeq 0
    for a message never changed, or an earlier change's number): counted in `noops`, and no
    delivery is expected for it."""
    by_key: Changes = {}
    noops = 0
    for room, seq, ns in sorted(changed, key=lambda c: c[2]):
        if seq <= 0 or (room, seq) in by_key:
            noops += 1
            continue
        by_key[(room, seq)] = ns
    return {"by_key": by_key, "noops": noops}


def _match_updates(
    updates: dict[str, Any], changes: Changes, lat: array[float], sent: array[int]
) -> int:
    """Append the latency of each `message_updated` arrival of a worker that belongs to one
    of `changes` (and its change's send time) to `lat` / `sent`; the number unmatched."""
    rooms = updates["rooms"]
    room_idx, seqs, arrivals = array("i"), array("q"), array("q")
    room_idx.frombytes(updates["room"])
    seqs.frombytes(updates["seq"])
    arrivals.frombytes(updates["ns"])
    unmatched = 0
    for i, seq, ns in zip(room_idx, seqs, arrivals, strict=True):
        t = changes.get((rooms[i], seq))
        if t is None:
            unmatched += 1
            continue
        lat.append((ns - t) / 1e6)
        sent.append(t)
    return unmatched


class LoadGen:
    """`workers` processes, optionally pinned to `cpus`, each holding a share of sockets."""

    def __init__(self, workers: int = 2, cpus: list[int] | None = None, quiet: bool = False):
        ctx = mp.get_context("spawn")
        self.n = workers
        self.quiet = quiet
        self.counters = ctx.Array("q", workers * N_COUNTERS, lock=False)
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        self.owner: dict[Any, int] = {}
        for wid in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(
                target=worker_main, args=(wid, child, self.counters, cpus), daemon=True
            )
            proc.start()
            self.pipes.append(parent)
            self.procs.append(proc)

    # -- plumbing -----------------------------------------------------------------------

    def total(self, idx: int) -> int:
        return sum(self.counters[w * N_COUNTERS + idx] for w in range(self.n))

    def progress_line(self) -> str:
        return (
            f"connected {self.total(C_CONNECTED)} failed {self.total(C_FAILED)} "
            f"closed {self.total(C_CLOSED)} sent {self.total(C_SENT)} "
            f"acked {self.total(C_ACKED)} ack_err {self.total(C_ACK_ERR)} "
            f"delivered {self.total(C_DELIVERED)}"
        )

    def log(self, msg: str) -> None:
        if not self.quiet:
            print(f"  [{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    def call(self, cmds: list[dict[str, Any] | None], timeout: float, label: str = "") -> list[Any]:
        """Send one command per worker (None: skip that worker) and wait for all replies,
        printing progress every few seconds; raise if a worker does not answer in time."""
        waiting: dict[Connection, int] = {}
        for wid, cmd in enumerate(cmds):
            if cmd is not None:
                self.pipes[wid].send(cmd)
                waiting[self.pipes[wid]] = wid
        replies: list[Any] = [None] * self.n
        deadline = time.monotonic() + timeout
        last = time.monotonic()
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"workers {sorted(waiting.values())} did not answer {label}")
            for pipe in wait(list(waiting), timeout=min(left, PROGRESS_EVERY_S)):
                assert isinstance(pipe, Connection)
                wid = waiting.pop(pipe)
                reply = pipe.recv()
                if isinstance(reply, dict) and "error" in reply:
                    raise RuntimeError(f"worker {wid} failed {label}: {reply['error']}")
                replies[wid] = reply
            if time.monotonic() - last >= PROGRESS_EVERY_S and waiting:
                last = time.monotonic()
                self.log(f"{label}: {self.progress_line()}")
        return replies

    # -- operations ---------------------------------------------------------------------

    def connect(
        self,
        host: str,
        port: int,
        specs: list[dict[str, Any]],
        *,
        rate: float,
        concurrency: int = 400,
        timeout: float = 120.0,
        deflate: bool = False,
        namespace: str = "/chat",
        path: str = "/socket.io/",
    ) -> dict[str, Any]:
        """Open one socket per spec ({key, auth, rooms}); spec i goes to worker i % n."""
        shares: list[list[dict[str, Any]]] = [[] for _ in range(self.n)]
        for i, spec in enumerate(specs):
            shares[i % self.n].append(spec)
            self.owner[spec["key"]] = i % self.n
        t0 = time.monotonic()
        replies = self.call(
            [
                {
                    "cmd": "connect",
                    "host": host,
                    "port": port,
                    "path": path,
                    "namespace": namespace,
                    "deflate": deflate,
                    "specs": share,
                    "rate": rate / self.n,
                    "concurrency": max(1, concurrency // self.n),
                    "timeout": timeout,
                }
                if share
                else None
                for share in shares
            ],
            timeout + 30,
            "connect",
        )
        elapsed = time.monotonic() - t0
        lat = array("d")
        reasons: Counter[str] = Counter()
        ok = failed = 0
        for r in replies:
            if r is None:
                continue
            ok += r["connected"]
            failed += r["failed"]
            reasons.update(r["fail_reasons"])
            lat.extend(_floats(r["lat"]))
        return {
            "attempted": len(specs),
            "connected": ok,
            "failed": failed,
            "fail_reasons": dict(reasons.most_common(10)),
            "elapsed_s": elapsed,
            "latency_ms": sorted(lat),
        }

    def send(
        self,
        step: str,
        senders: list[dict[str, Any]],
        *,
        rate: float,
        duration: float,
        ack_timeout: float = 10.0,
        pad: str = "",
        client_msg_id: bool = True,
    ) -> dict[str, Any]:
        """Spread `rate` over the workers in proportion to the senders each one holds."""
        by_worker: list[list[dict[str, Any]]] = [[] for _ in range(self.n)]
        for s in senders:
            by_worker[self.owner[s["key"]]].append(s)
        total_senders = max(1, len(senders))
        # One shared start on the system-wide monotonic clock, and a phase per worker:
        # worker k of the active ones starts k/rate s later, so that equal shares
        # interleave into one evenly spaced stream instead of W messages at a time.
        start_at = time.monotonic() + SEND_START_DELAY_S
        cmds: list[dict[str, Any] | None] = []
        active = 0
        for share in by_worker:
            if not share:
                cmds.append(None)
                continue
            phase = active / rate if rate > 0 else 0.0
            active += 1
            cmds.append(
                {
                    "cmd": "send",
                    "step": step,
                    "senders": share,
                    "rate": rate * len(share) / total_senders,
                    "start_at": start_at,
                    "phase": phase,
                    "duration": duration,
                    "ack_timeout": ack_timeout,
                    "pad": pad,
                    "client_msg_id": client_msg_id,
                }
            )
        replies = self.call(cmds, duration + ack_timeout + 60, f"send {step}")
        out: dict[str, Any] = {
            "sent": 0,
            "unsent_dead_sender": 0,
            "acked": 0,
            "ack_missing": 0,
            "ack_err": Counter(),
            "sent_by_target": Counter(),
            "max_send_lag_ms": 0.0,
        }
        ack_lat = array("d")
        changed: list[tuple[str, int, int]] = []
        last_ack_at = 0.0
        for r in replies:
            if r is None:
                continue
            for k in ("sent", "unsent_dead_sender", "acked", "ack_missing"):
                out[k] += r[k]
            out["ack_err"].update(r["ack_err"])
            out["sent_by_target"].update(r["sent_by_target"])
            out["max_send_lag_ms"] = max(out["max_send_lag_ms"], r["max_send_lag_ms"])
            ack_lat.extend(_floats(r["ack_lat"]))
            changed += r["changed"]
            last_ack_at = max(last_ack_at, r["last_ack_at"])
        out["ack_err"] = dict(out["ack_err"])
        out["sent_by_target"] = dict(out["sent_by_target"])
        out["ack_latency_ms"] = sorted(ack_lat)
        # From the shared start to the last ack: acks/s is acked over this (or over the
        # step's duration when the server kept up).
        out["ack_span_s"] = max(0.0, last_ack_at - start_at) if last_ack_at else None
        out["changes"] = changes_of(changed) if any(s.get("cycle") for s in senders) else None
        return out

    def delivered(self) -> int:
        return self.total(C_DELIVERED)

    def collect(
        self, step: str, reset_all: bool = False, changes: Changes | None = None
    ) -> dict[str, Any]:
        """A step's deliveries: its messages' (`step` in their content) and, with the
        step's `changes` (from `send`), the `message_updated` arrivals matched to them by
        (room, changeSeq); arrivals of no change of the step count as `unmatched_updates`."""
        replies = self.call(
            [{"cmd": "collect", "step": step, "reset_all": reset_all}] * self.n, 60, "collect"
        )
        lat = array("d")
        sent = array("q")
        unmeasured = unmatched = 0
        frames: Counter[str] = Counter()
        frame_bytes: Counter[str] = Counter()
        for r in replies:
            lat.extend(_floats(r["lat"]))
            sent.frombytes(r["sent"])
            unmeasured += r["unmeasured"]
            for kind, (n, size) in r["frame_bytes"].items():
                frames[kind] += n
                frame_bytes[kind] += size
            if changes is not None:
                unmatched += _match_updates(r["updates"], changes, lat, sent)
        return {
            "count": len(lat),
            "latency_ms": sorted(lat),
            "per_message": per_message(sent, lat),
            "unmeasured": unmeasured,
            "unmatched_updates": unmatched,
            "frame_bytes_mean": {k: round(frame_bytes[k] / n) for k, n in frames.items() if n},
        }

    def status(self) -> dict[str, Any]:
        replies = self.call([{"cmd": "status"}] * self.n, 60, "status")
        alive = held = 0
        by_target: Counter[str] = Counter()
        reasons: Counter[str] = Counter()
        for r in replies:
            alive += r["alive"]
            held += r["held"]
            by_target.update(r["alive_by_target"])
            reasons.update(r["close_reasons"])
        return {
            "alive": alive,
            "held": held,
            "alive_by_target": dict(by_target),
            "close_reasons": dict(reasons.most_common(10)),
        }

    def disconnect(self) -> int:
        replies = self.call([{"cmd": "disconnect"}] * self.n, 120, "disconnect")
        self.owner.clear()
        for w in range(self.n):
            for idx in (C_CONNECTED, C_FAILED, C_CLOSED):
                self.counters[w * N_COUNTERS + idx] = 0
        return sum(r["closed"] for r in replies)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call([{"cmd": "close"}] * self.n, 60, "close")
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.terminate()

    def __enter__(self) -> LoadGen:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
