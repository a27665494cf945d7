"""The machine's floor for one big fan-out: how long one core takes just to hand a small
WebSocket frame to each of N loopback TCP sockets (one `send` syscall each, no Python
server, no Socket.IO), with a reader draining them on the generator's core.

A server that writes to every member of a 10,000-member room from one event loop can't
finish sooner than this, so the last recipient of a lobby message can't get it sooner
either: it is the bound under the lobby scenario's p99 (bench/README.md, "Lobby").

    python -m bench floor --n 10000 --repeats 20
    python -m bench floor --n 10000 --threads 1,2   # slices sent from 2 threads, all cores

With `--threads 2` the slices go out from two threads at once (`send` releases the GIL)
and the sender may run on every core, the reader's included: what writing a big room
from several threads could gain on this machine.

Owns: the floor sub-command (no server at all: raw sockets) and its results file (`floor`).
Must not: run while another benchmark runs (it measures the kernel, not the server).
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import log, machine, save_result
from bench.scenarios.options import ints
from bench.targets import default_cpus

# A frame the size of a short lobby message as the server sends it (header + ~150 bytes).
FRAME = b"\x81\x7e\x00\x96" + b"x" * 150
# Seconds between two fan-outs: the reader drains, as between two lobby messages at 2/s.
GAP_S = 0.5
# The reader gives up after this long whatever happens (every loop here is bounded).
READER_DEADLINE_S = 600.0


def _reader(port: int, n: int, ready_w: int, cpu: int | None) -> None:
    """Child: open n connections, then drain them until killed or the deadline."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    os.write(ready_w, b"1")
    deadline = time.monotonic() + READER_DEADLINE_S
    while time.monotonic() < deadline:
        for key, _ in sel.select(1.0):
            try:
                key.fileobj.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
    os._exit(0)


def _send_all(conns: list[socket.socket]) -> None:
    for c in conns:
        c.send(FRAME)


def measure(
    n: int, repeats: int, server_cpu: int | None, reader_cpu: int | None, threads: int = 1
) -> dict[str, Any]:
    """Time `repeats` fan-outs of one frame to n sockets, from one core (or `threads`
    threads on any core)."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    port = listener.getsockname()[1]
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _reader(port, n, ready_w, reader_cpu)
    try:
        if server_cpu is not None and threads == 1:
            os.sched_setaffinity(0, {server_cpu})
        conns = []
        for _ in range(n):
            c, _ = listener.accept()
            c.setblocking(False)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append(c)
        os.read(ready_r, 1)
        slices = [conns[i::threads] for i in range(threads)]
        times_ms = []
        with ThreadPoolExecutor(threads) as senders:
            for _ in range(repeats):
                t = time.perf_counter()
                if threads == 1:
                    _send_all(conns)
                else:
                    list(senders.map(_send_all, slices))
                times_ms.append((time.perf_counter() - t) * 1000.0)
                time.sleep(GAP_S)
        for c in conns:
            c.close()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        listener.close()
    return {
        "n": n,
        "threads": threads,
        "repeats": repeats,
        "fanout_ms": {
            "min": round(min(times_ms), 1),
            "median": round(statistics.median(times_ms), 1),
            "max": round(max(times_ms), 1),
        },
        "us_per_send_median": round(statistics.median(times_ms) * 1000.0 / n, 2),
    }


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("floor", help="the kernel's cost of one fan-out: N loopback sends")
    p.add_argument("--n", type=ints, default=[1000, 10000], help="comma list of socket counts")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument(
        "--threads",
        type=ints,
        default=[1],
        help="comma list of sender thread counts; above 1 the sender may use every core",
    )
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--tag", default="")
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    server_cpus, gen_cpus = default_cpus()
    server_cpu = None if args.no_pin or server_cpus is None else int(server_cpus.split(",")[0])
    reader_cpu = None if args.no_pin or not gen_cpus else gen_cpus[0]
    results = {}
    for n in args.n:
        for threads in args.threads:
            r = measure(n, args.repeats, server_cpu, reader_cpu, threads)
            where = "one core" if threads == 1 else f"{threads} threads, any core"
            log(
                f"floor: {n} sends from {where}: median {r['fanout_ms']['median']} ms "
                f"({r['us_per_send_median']} us/send), min {r['fanout_ms']['min']} ms"
            )
            results[str(n) if threads == 1 else f"{n}x{threads}t"] = r
    save_result(
        "floor",
        {
            "params": {
                "n": args.n,
                "threads": args.threads,
                "repeats": args.repeats,
                "frame_bytes": len(FRAME),
            },
            "machine": machine(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
            "server_cpus": server_cpu,
            "gen_cpus": reader_cpu,
            "results": results,
        },
        args.tag,
    )
