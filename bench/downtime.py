"""How long a client is without service when an instance restarts gracefully or crashes.

    python -m bench.downtime [--runs 5] [--clients 4] [--interval 0.05]
    python -m bench downtime [...]   # the same

Starts a private cluster on 127.0.0.1 (a fresh PostgreSQL database on the local server,
its own redis-server, two `chat-server serve` instances and HAProxy with the repository's
haproxy.cfg), connects clients through HAProxy (half WebSocket, half long-polling), and has
each send a message about every `--interval` seconds, waiting for its ack. Then, per run:

- graceful: SIGTERM one instance (it drains: readiness fails, clients are told
  `server_shutdown` and their connections closed in a jittered trickle), wait for it to
  exit, start it again and wait until HAProxy has it back;
- sigkill: SIGKILL one instance, start it again, wait until HAProxy has it back.

Each run takes away the instance holding the most clients; after the first run that is
every client. A client's time without service is the longest stretch
between two successful acks in the run's window: from the last ack before its connection
went to the first ack after it reconnected (through HAProxy to the other instance), synced
and resent. Sends are retried with the same clientMsgId, so nothing is lost; at the end the
room's history is checked (every ack stored once, every client has every message in order).

The clients are tests/cluster/peers.py's `Peer` (reconnect backoff 0.1 s doubling to 1 s,
jittered; ack timeout 5 s). Results: bench/results/downtime.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from tests import pgdb
from tests.cluster.peers import Peer, assert_complete, room_history
from tests.cluster.procs import Cluster, Instance, ProcessGroup, RedisServer

from bench.common import RESULTS_DIR, machine

PASSWORD = "correct horse battery"
OUT = RESULTS_DIR / "downtime.json"
# Quiet time before each fault and after the instance is back.
SETTLE_S = 2.0
# After a SIGKILL, how long the instance stays down before it is started again.
KILLED_FOR_S = 3.0


@dataclass
class Client:
    peer: Peer
    acks: list[float] = field(default_factory=list)


def log(msg: str) -> None:
    print(f"[downtime {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


async def sender(client: Client, room_id: str, interval: float, stop: asyncio.Event) -> None:
    n = 0
    while not stop.is_set():
        started = time.monotonic()
        await client.peer.send(room_id, f"{client.peer.name} #{n}", deadline_s=60)
        client.acks.append(time.monotonic())
        n += 1
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))


def longest_gap(acks: list[float], start: float, end: float) -> float:
    """The longest time between consecutive acks around [start, end]: the ack before
    `start` and the first after `end` bound the window."""
    before = [t for t in acks if t <= start]
    inside = [t for t in acks if start < t <= end]
    after = [t for t in acks if t > end]
    points = ([before[-1]] if before else []) + inside + ([after[0]] if after else [])
    return max((b - a for a, b in itertools.pairwise(points)), default=float("nan"))


async def busiest(cluster: Cluster) -> Instance:
    """The instance holding the most client connections: the one to take away."""
    counts = [(await i.metrics())["chat_active_connections"] for i in cluster.instances]
    return cluster.instances[counts.index(max(counts))]


async def wait_back(cluster: Cluster, inst: Instance) -> None:
    await inst.wait_ready()
    await cluster.haproxy.wait_state(inst.name, "UP")


async def one_run(
    cluster: Cluster, clients: list[Client], scenario: str, victim: Instance
) -> dict[str, Any]:
    disconnects = {c.peer.name: c.peer.disconnects for c in clients}
    await asyncio.sleep(SETTLE_S)
    start = time.monotonic()
    if scenario == "graceful":
        victim.terminate()
        code = await victim.wait_exit()
        exited = time.monotonic() - start
    else:
        victim.kill()
        code = await victim.wait_exit()
        exited = time.monotonic() - start
        await asyncio.sleep(KILLED_FOR_S)
    victim.start()
    await wait_back(cluster, victim)
    back = time.monotonic() - start
    await asyncio.sleep(SETTLE_S)
    end = time.monotonic()
    per_client = {}
    for c in clients:
        moved = c.peer.disconnects > disconnects[c.peer.name]
        per_client[c.peer.name] = {
            "affected": moved,
            "transport": c.peer.transports[0],
            "without_service_s": round(longest_gap(c.acks, start, end), 3),
        }
    return {
        "scenario": scenario,
        "victim": victim.name,
        "exit_code": code,
        "exited_after_s": round(exited, 2),
        "back_in_haproxy_after_s": round(back, 2),
        "clients": per_client,
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    gaps = sorted(
        c["without_service_s"] for r in runs for c in r["clients"].values() if c["affected"]
    )
    by_transport: dict[str, list[float]] = {}
    for r in runs:
        for c in r["clients"].values():
            if c["affected"]:
                by_transport.setdefault(c["transport"], []).append(c["without_service_s"])
    return {
        "affected_clients": len(gaps),
        "median_s": round(statistics.median(gaps), 3) if gaps else None,
        "worst_s": gaps[-1] if gaps else None,
        "by_transport": {
            t: {"n": len(v), "median_s": round(statistics.median(v), 3), "worst_s": max(v)}
            for t, v in sorted(by_transport.items())
        },
    }


async def measure(args: argparse.Namespace, cluster: Cluster) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http:
        users = []
        for _ in range(args.clients):
            name = f"dt_{uuid.uuid4().hex[:10]}"
            async with http.post(
                f"{cluster.url}/api/auth/register",
                json={"email": f"{name}@example.test", "username": name, "password": PASSWORD},
            ) as resp:
                body = await resp.json()
                assert resp.status == 201, body
                users.append(body)
        headers = {"Authorization": f"Bearer {users[0]['accessToken']}"}
        async with http.post(
            f"{cluster.url}/api/rooms",
            json={"name": f"downtime-{uuid.uuid4().hex[:8]}"},
            headers=headers,
        ) as resp:
            room = await resp.json()
            assert resp.status == 201, room
        for user in users[1:]:
            async with http.post(
                f"{cluster.url}/api/rooms/{room['id']}/join",
                headers={"Authorization": f"Bearer {user['accessToken']}"},
            ) as resp:
                assert resp.status == 200, await resp.text()

        clients = []
        for i, user in enumerate(users):
            transport = "websocket" if i % 2 == 0 else "polling"
            peer = Peer(
                f"c{i}-{transport}", cluster.url, user["accessToken"], transports=[transport]
            )
            peer.track(room["id"], room["lastSeq"])
            await peer.start()
            clients.append(Client(peer))
        stop = asyncio.Event()
        tasks = [asyncio.create_task(sender(c, room["id"], args.interval, stop)) for c in clients]
        try:
            await asyncio.sleep(SETTLE_S)
            baseline_start = time.monotonic()
            await asyncio.sleep(3)
            baseline = max(longest_gap(c.acks, baseline_start, time.monotonic()) for c in clients)
            log(f"baseline: longest gap between acks without faults {baseline:.3f}s")
            runs: dict[str, list[dict[str, Any]]] = {"graceful": [], "sigkill": []}
            for scenario in ("graceful", "sigkill"):
                for i in range(args.runs):
                    victim = await busiest(cluster)
                    run = await one_run(cluster, clients, scenario, victim)
                    runs[scenario].append(run)
                    gaps = [
                        f"{n}={c['without_service_s']}"
                        for n, c in run["clients"].items()
                        if c["affected"]
                    ]
                    log(
                        f"{scenario} #{i + 1} ({victim.name}): {' '.join(gaps) or 'no client moved'}"
                    )
        finally:
            stop.set()
            await asyncio.gather(*tasks)
        for c in clients:
            await c.peer.settle()
        stored = await room_history(http, cluster.url, users[0]["accessToken"], room["id"])
        assert_complete([c.peer for c in clients], room["id"], stored, room["lastSeq"])
        for c in clients:
            await c.peer.close()
        return {
            "baseline_longest_gap_s": round(baseline, 3),
            "messages": len(stored) - room["lastSeq"],
            "lost_or_duplicated": 0,
            "scenarios": {name: {**summarize(r), "runs": r} for name, r in runs.items()},
        }


def start_cluster(group: ProcessGroup, workdir: Path) -> tuple[Cluster, str]:
    name = pgdb.unique_name("chat_downtime")
    url = asyncio.run(pgdb.create_database(name))
    redis = RedisServer(group, workdir).start()
    # The production heartbeat (the tests shorten it).
    heartbeat = {"PING_INTERVAL": "25", "PING_TIMEOUT": "20"}
    return Cluster(group, workdir, url, redis, size=2, extra_env=heartbeat).start(), name


def add_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--runs", type=int, default=5, help="runs per scenario")
    p.add_argument("--clients", type=int, default=6)
    p.add_argument("--interval", type=float, default=0.05, help="seconds between sends")
    p.add_argument("--out", type=Path, default=OUT)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("downtime", help="time without service when an instance restarts or crashes")
    add_options(p)
    p.set_defaults(fn=run, command_line=None)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.downtime [options]`, the same as `python -m bench downtime`."""
    parser = argparse.ArgumentParser(prog="python -m bench.downtime", description=__doc__)
    add_options(parser)
    args = parser.parse_args(argv)
    args.command_line = "python -m bench.downtime " + " ".join(argv or sys.argv[1:])
    run(args)
    return 0


def run(args: argparse.Namespace) -> None:
    group = ProcessGroup()
    db_name = None
    with tempfile.TemporaryDirectory(prefix="chat-downtime-") as tmp:
        try:
            cluster, db_name = start_cluster(group, Path(tmp))
            log(
                f"cluster up: HAProxy {cluster.url}, instances {[i.url for i in cluster.instances]}"
            )
            result = asyncio.run(measure(args, cluster))
        finally:
            group.close()
            if db_name:
                with contextlib.suppress(Exception):
                    asyncio.run(pgdb.drop_database(db_name))
    result = {
        "what": "time a client is without service (longest gap between successful acks)",
        "command": args.command_line or " ".join(["python", "-m", "bench", *sys.argv[1:]]),
        "settings": {
            "runs_per_scenario": args.runs,
            "clients": args.clients,
            "send_interval_s": args.interval,
            "haproxy_check": "inter 1s fall 2 rise 2",
            "client_reconnect_backoff_s": "0.1 doubling to 1.0, jittered",
            "ping_interval_s": 25,
        },
        "machine": machine(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    for name, s in result["scenarios"].items():
        print(
            f"{name:9s} affected clients {s['affected_clients']:3d}  "
            f"median {s['median_s']} s  worst {s['worst_s']} s  "
            + "  ".join(
                f"[{t}: median {v['median_s']} worst {v['worst_s']}]"
                for t, v in s["by_transport"].items()
            )
        )
    print(f"messages {result['messages']}, none lost or duplicated; written to {args.out}")


if __name__ == "__main__":
    sys.exit(main())
