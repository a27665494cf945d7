"""Cluster fan-out: the fan-out scenario through HAProxy to 2+ instances sharing Redis.

Two ways to run it:

- `--url http://127.0.0.1:8080 [--pids 123,456]`: drive a cluster started by someone else
  (e.g. `chat-server cluster` or docker-compose). Its instances must use the bench database
  (`postgresql://postgres@127.0.0.1:5432/chat_bench`) and the bench JWT secret
  (`bench.fixtures.JWT_SECRET`, or set BENCH_JWT_SECRET to theirs).
- `--launch`: the bench starts N instances of `chat-server` (ports 8111, 8112, ...) with
  REDIS_URL, and HAProxy on 127.0.0.1:8110 with the project's one `haproxy.cfg`
  (chat_server/haproxy.cfg, configured through CHAT_LISTEN / CHAT_BACKEND_n /
  CHAT_CHECK_INTER / CHAT_MAXCONN), or `--haproxy-cfg FILE`, through chat_server/launcher.py
  (the launcher `chat-server cluster` and the tests use; this module owns only the bench's
  shape: ports, pinning, logs, baselines). Instances and HAProxy are pinned to the server
  cores.
  `--targets ours,py,node` runs the same cluster shape with the baselines in turn (their
  `--redis` mode: python-socketio's AsyncRedisManager, socket.io's redis adapter), behind
  the same HAProxy configuration, so the cluster's figures have same-run ratios too.

Senders and receivers of a room are spread over the instances by HAProxy's balancing, so
most deliveries cross instances through Redis. HAProxy holds two descriptors per proxied
socket: with this machine's 20,000 descriptor limit it can proxy ~9,900 sockets.

Owns: the cluster sub-command, launching a cluster shape (`launch`, and `launch_direct`
for `connect --instances`) and its results file (`cluster-<R>x<M>`).
Must not: touch a Redis database but the bench's own (`--redis-url`, flushed at launch), or
start processes itself: instances and HAProxy go through chat_server/launcher.py, the
launcher `chat-server cluster` and the cluster tests use too.
"""

from __future__ import annotations

import argparse
import functools
import time
from pathlib import Path
from typing import Any

import redis
from chat_server.launcher import HAPROXY_CFG, HAProxy, Instance, ProcessGroup, start_all

from bench import fixtures
from bench.common import RESULTS_DIR, log, machine, save_result
from bench.loadgen.pool import LoadGen
from bench.scenarios.options import step_options, target_names, target_options
from bench.scenarios.plans import rooms_plan
from bench.scenarios.runner import best_deliveries, ratios, run_target
from bench.scenarios.steps import RunOpts, run_steps
from bench.targets import (
    Target,
    _raise_nofile,
    baseline_cmd,
    chat_server_bin,
    cpus_from_args,
    external,
    ours_env,
)

FRONT_PORT = 8110
FIRST_BACKEND_PORT = 8111
STATS_PORT = 8119
# HAProxy holds two descriptors per proxied socket: what this machine's 20,000 allow.
HAPROXY_MAXCONN = 9900
# Instances pinned to one core start side by side (the Node baseline slowest): room.
START_TIMEOUT_S = 90.0


def _start_instances(
    target: Target, name: str, instances: int, cpus: str | None, redis_url: str
) -> list[Instance]:
    """N instances of `name` (ours, py or node) on 8111.. sharing Redis (ours also the
    bench database), started through the launcher and recorded in `target`."""
    r = redis.Redis.from_url(redis_url)
    r.flushdb()  # the bench's own Redis database: presence, rate limits, blacklist
    r.close()
    group = ProcessGroup()
    apps = []
    for i in range(instances):
        port = FIRST_BACKEND_PORT + i
        if name == "ours":
            env = ours_env(
                port=port,
                database_url=fixtures.dsn(),
                jwt_secret=fixtures.JWT_SECRET,
                redis_url=redis_url,
            )
            cmd = [chat_server_bin()]
        else:
            cmd, env = baseline_cmd(name, port, redis_url)
        log_path = RESULTS_DIR / "logs" / f"cluster-{name}-app{i + 1}.log"
        apps.append(
            Instance(
                group,
                f"bench-app{i + 1}",
                port,
                env,
                log_path,
                command=cmd,
                cpus=cpus,
                preexec_fn=_raise_nofile,
            )
        )
    try:
        start_all(apps, START_TIMEOUT_S)
    finally:
        target.procs.extend(group.procs)
        target.pids.extend(p.pid for p in group.procs)
        target.logs.extend(app.log_path for app in apps if app.log_path)
    return apps


def launch_direct(instances: int, cpus: str | None, redis_url: str) -> Target:
    """N instances sharing Redis, driven directly (the generator alternates connections
    over their ports): for connection counts above one process's descriptor limit, which
    HAProxy (two descriptors per socket) can't front on this machine."""
    ports = [FIRST_BACKEND_PORT + i for i in range(instances)]
    target = Target(f"ours x{instances}", "ours", "127.0.0.1", ports[0], ports=ports)
    try:
        _start_instances(target, "ours", instances, cpus, redis_url)
    except Exception:
        target.stop()
        raise
    log(f"{instances} instances on ports {ports}, sharing Redis {redis_url}")
    return target


def launch(name: str, instances: int, cpus: str | None, redis_url: str, cfg: str | None) -> Target:
    """N instances of `name` (ours, py or node) sharing Redis behind HAProxy, all on
    `cpus`: the same shape and proxy configuration for every target."""
    cfg_path = Path(cfg) if cfg else HAPROXY_CFG
    if not cfg_path.exists():
        raise RuntimeError(f"{cfg_path} does not exist: pass --haproxy-cfg or --url")
    target = Target(
        name,
        "ours" if name == "ours" else "baseline",
        "127.0.0.1",
        FRONT_PORT,
        uses_tokens=name == "ours",
    )
    try:
        apps = _start_instances(target, name, instances, cpus, redis_url)
        proxy = HAProxy(
            ProcessGroup(),
            [app.address for app in apps],
            port=FRONT_PORT,
            stats_port=STATS_PORT,
            maxconn=HAPROXY_MAXCONN,
            cfg=cfg_path,
            log_path=RESULTS_DIR / "logs" / f"cluster-{name}-haproxy.log",
            # Not master-worker: the pid measured (CPU, RSS) is the one that proxies.
            master_worker=False,
            cpus=cpus,
            preexec_fn=_raise_nofile,
        )
        try:
            proxy.start()
        finally:
            if proxy.proc is not None:
                target.procs.append(proxy.proc)
                target.pids.append(proxy.proc.pid)
        proxy.wait_up()
    except Exception:
        target.stop()
        raise
    log(
        f"cluster: {instances} {name} instances {[a.address for a in apps]} behind haproxy "
        f"{target.url} (cfg {cfg_path})"
    )
    return target


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cluster", help="fan-out through HAProxy to 2 instances + Redis")
    target_options(p, targets="ours")
    p.add_argument("--rooms", type=int, default=10)
    p.add_argument("--members", type=int, default=100)
    p.add_argument("--senders", type=int, default=10)
    p.add_argument("--instances", type=int, default=2, help="with --launch: app instances")
    p.add_argument(
        "--launch",
        action="store_true",
        help="start Redis-backed instances + HAProxy (needs haproxy)",
    )
    p.add_argument(
        "--haproxy-cfg",
        default=None,
        help="with --launch: use this haproxy config instead of the bench's",
    )
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    step_options(p, "100,250,500,1000", 10.0)
    p.set_defaults(fn=run)


def run(args: argparse.Namespace) -> None:
    server_cpus, gen_cpus = cpus_from_args(args)
    if not args.url and not args.launch:
        raise SystemExit(
            "cluster: pass --url of a running cluster, or --launch (see bench/README.md)"
        )
    fixtures.ensure_db()
    plan = rooms_plan(args.rooms, args.members, args.senders)
    opts = RunOpts.from_args(args)
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    names = target_names(args) if args.launch else ["ours"]
    results: dict[str, Any] = {}
    with LoadGen(args.workers, gen_cpus) as lg:
        for name in names:
            target = (
                launch(name, args.instances, server_cpus, args.redis_url, args.haproxy_cfg)
                if args.launch
                else external(args.url, [int(p) for p in args.pids.split(",") if p.strip()])
            )
            gen_pids = [p.pid for p in lg.procs]
            results[name] = run_target(
                target, lg, functools.partial(run_steps, target, lg, plan, opts, gen_pids)
            )
    save_result(
        f"cluster-{args.rooms}x{args.members}",
        {
            "params": {
                "rooms": args.rooms,
                "members": args.members,
                "senders_per_room": args.senders,
                "instances": args.instances if args.launch else None,
                "url": args.url or f"http://127.0.0.1:{FRONT_PORT}",
                "rates": args.rates,
                "duration_s": args.duration,
                "deflate": args.deflate,
            },
            "machine": machine(),
            "started": started,
            "server_cpus": server_cpus,
            "gen_cpus": gen_cpus,
            "results": results,
            "ratios": {"best_deliveries_per_s": ratios(results, best_deliveries)},
        },
        args.tag,
    )


__all__ = ["launch", "launch_direct", "register", "run"]
