"""`python -m bench changes`: what a change to a message costs next to a new message.

Issue 16 asks for the cost of a change relative to a new message, and for reaction fan-out
in the 10,000-member lobby. One room of M members (`--members`; `--lobby` for the lobby with
M of its members connected), S senders (`--senders`), and for each rate of `--rates` two
steps with the same sockets, senders and rate:

1. `send_message`: new messages, measured as every message scenario is (bench.scenarios.steps);
2. `add_reaction` / `remove_reaction` toggles on the newest `--messages` messages of step 1
   (never changed before, so none carries a reaction of ours yet): sender j adds its emoji
   to each of them in turn, then removes it from each, and so on, so that an add and the
   remove of the same reaction are `--messages` events of that sender apart and every event
   changes something. Each change reaches the room as `message_updated`
   {message, changeSeq}: a recipient's worker records (room, changeSeq, arrival), the
   sender's records its ack's changeSeq and the send time, and the coordinator matches the
   two (bench.loadgen.pool). An ack answering a no-op (changeSeq 0 or a number already
   acked) is counted in `noop_acks` and expects no delivery.

Per rate, the results carry both steps and their ratios reaction / send: acks/s achieved,
ack latency p50/p99, delivery latency p50/p99, the last recipient's latency (p50 over
changes/messages) and the server's CPU per event. Ours only: the baselines have no
reactions. The server runs with the bench's high rate limits (bench.targets.ours_env):
neither sends nor reactions are throttled.

Owns: the changes sub-command, its toggling senders and its results file
(`changes-<M>` or `changes-lobby-<M>`).
Must not: hold the stepping's measuring (bench.scenarios.steps.run_step measures both kinds
of steps), or make users, rooms or messages other than through bench.fixtures and the
server's own events.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from bench import fixtures
from bench.common import RESULTS_DIR, log, machine, save_result
from bench.loadgen.pool import LoadGen
from bench.pgwaits import PgWaits
from bench.scenarios.options import step_options, target_names, target_options
from bench.scenarios.plans import Plan, rooms_plan
from bench.scenarios.profile import top_costs
from bench.scenarios.runner import for_targets
from bench.scenarios.steps import RunOpts, connect_plan, drain, run_step, settle, warm_up
from bench.targets import Target

# The emoji every toggle uses: one code point, like most reactions people pick.
DEFAULT_EMOJI = "👍"
# Messages a reaction step toggles on: enough that an add and the remove of the same
# reaction are far apart (20 events of one sender: 0.5 s at 40 events/s per sender), so
# that they cannot overtake each other on the server and turn into no-ops.
DEFAULT_MESSAGES = 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "changes",
        help="reactions vs new messages: acks/s and fan-out at the same room size and rate",
    )
    target_options(p, targets="ours")
    p.add_argument("--members", type=int, default=100, help="sockets in the room")
    p.add_argument(
        "--lobby",
        action="store_true",
        help="use the lobby (every user's room) with --members of its members connected",
    )
    p.add_argument("--senders", type=int, default=10)
    p.add_argument(
        "--messages",
        type=int,
        default=DEFAULT_MESSAGES,
        help="messages each reaction step toggles on (default %(default)s)",
    )
    p.add_argument("--emoji", default=DEFAULT_EMOJI)
    p.add_argument(
        "--pg-waits",
        action="store_true",
        help="sample what the bench database's backends wait on during each step",
    )
    step_options(p, "50,100,200,400", 10.0)
    p.set_defaults(fn=run)


def toggle_senders(plan: Plan, message_ids: list[str], emoji: str) -> list[dict[str, Any]]:
    """The plan's senders, each cycling through add_reaction on every message of
    `message_ids` (starting at its own offset) and then remove_reaction on each."""
    out = []
    k = len(message_ids)
    for j, s in enumerate(plan.senders):
        room_id = s["payload"]["roomId"]
        order = [message_ids[(j + q) % k] for q in range(k)]
        cycle = [
            [event, {"roomId": room_id, "messageId": mid, "emoji": emoji}]
            for event in ("add_reaction", "remove_reaction")
            for mid in order
        ]
        out.append({**s, "event": "add_reaction", "cycle": cycle})
    return out


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def _cpu_ms_per_event(step: dict[str, Any]) -> float | None:
    """The server's CPU per acked event: % of one core / events per second."""
    if not step.get("acks_per_s") or step.get("server_cpu_pct") is None:
        return None
    return round(step["server_cpu_pct"] * 10.0 / step["acks_per_s"], 3)


def pair_ratios(send: dict[str, Any], react: dict[str, Any]) -> dict[str, float | None]:
    """reaction / send for one rate: above 1 means a change costs more than a message."""
    last = "per_message_ms"
    return {
        "acks_per_s": _ratio(react["acks_per_s"], send["acks_per_s"]),
        "ack_p50": _ratio(react["ack_latency_ms"]["p50"], send["ack_latency_ms"]["p50"]),
        "ack_p99": _ratio(react["ack_latency_ms"]["p99"], send["ack_latency_ms"]["p99"]),
        "delivery_p50": _ratio(react["latency_ms"]["p50"], send["latency_ms"]["p50"]),
        "delivery_p99": _ratio(react["latency_ms"]["p99"], send["latency_ms"]["p99"]),
        "last_recipient_p50": _ratio(react[last]["last"]["p50"], send[last]["last"]["p50"]),
        "server_cpu_ms_per_event": _ratio(_cpu_ms_per_event(react), _cpu_ms_per_event(send)),
    }


def _log_step(target: Target, kind: str, step: dict[str, Any]) -> None:
    lat, ack, pm = step["latency_ms"], step["ack_latency_ms"], step["per_message_ms"]
    log(
        f"{target.name} {kind} @ {step['rate']:g}/s: {'PASS' if step['pass'] else 'FAIL'} "
        f"acks/s {step['acks_per_s']} ack p50/p99 {ack['p50']}/{ack['p99']} "
        f"delivery p50/p99 {lat['p50']}/{lat['p99']} last p50 {pm['last']['p50']} "
        f"loss {step['loss']} noops {step['noop_acks']} server cpu {step['server_cpu_pct']}%"
    )
    if step.get("pg_waits"):
        log(f"  database backends (mean over samples): {step['pg_waits']['mean_backends']}")


def run_pairs(
    target: Target,
    lg: LoadGen,
    plan: Plan,
    opts: RunOpts,
    gen_pids: list[int],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """Connect the plan, warm both kinds up, then a send step and a reaction step per rate;
    stop after `--stop-after-fails` rates at which both failed."""
    room_id = plan.senders[0]["payload"]["roomId"]
    out = connect_plan(target, lg, plan, opts)
    out["reaction_steps"] = []
    out["pairs"] = []
    pad = " " + "x" * opts.pad if opts.pad else ""
    warm_up(target, lg, plan, opts, pad)
    ids = fixtures.unchanged_messages(room_id, args.messages)
    if ids and opts.warmup_rate > 0 and opts.warmup_s > 0:
        log(f"{target.name}: reaction warm-up {opts.warmup_rate}/s for {opts.warmup_s}s")
        senders = toggle_senders(plan, ids, args.emoji)
        lg.send("wr", senders, rate=opts.warmup_rate, duration=opts.warmup_s)
        drain(lg, 0, 0, opts.settle_s + 1)
        lg.collect("wr", reset_all=True)
    fails = 0
    for i, rate in enumerate(opts.rates):
        with PgWaits(args.pg_waits) as waits:
            send = run_step(
                target, lg, plan, f"m{i}", rate, opts.duration, opts, pad, gen_pids, False
            )
        send["kind"] = "send_message"
        send["pg_waits"] = waits.result
        out["steps"].append(send)
        _log_step(target, "send_message", send)
        settle(lg, opts.settle_s)
        ids = fixtures.unchanged_messages(room_id, args.messages)
        if not ids:
            log(f"{target.name}: no unchanged message to react to after the send step; stop")
            break
        profile = opts.profile_rate is not None and abs(rate - opts.profile_rate) < 1e-9
        duration = max(opts.duration, opts.profile_seconds + 4) if profile else opts.duration
        with PgWaits(args.pg_waits) as waits:
            react = run_step(
                target,
                lg,
                plan,
                f"r{i}",
                rate,
                duration,
                opts,
                "",
                gen_pids,
                profile,
                senders=toggle_senders(plan, ids, args.emoji),
            )
        react["kind"] = "add/remove_reaction"
        react["pg_waits"] = waits.result
        react["toggled_messages"] = len(ids)
        out["reaction_steps"].append(react)
        _log_step(target, "add/remove_reaction", react)
        out["pairs"].append({"rate": rate, "reaction/send": pair_ratios(send, react)})
        log(f"{target.name} @ {rate:g}/s reaction/send: {out['pairs'][-1]['reaction/send']}")
        settle(lg, opts.settle_s)
        if not send["pass"] and not react["pass"]:
            fails += 1
            if fails >= opts.stop_after_fails:
                break
    final = lg.status()
    out["alive_at_end"] = final["alive"]
    out["close_reasons"] = final["close_reasons"]
    for kind, steps in (("best", out["steps"]), ("best_reaction", out["reaction_steps"])):
        passing = [s for s in steps if s["pass"]]
        best = max(passing, key=lambda s: s["acks_per_s"]) if passing else None
        out[kind] = (
            {
                k: best[k]
                for k in ("rate", "acks_per_s", "deliveries_per_s", "latency_ms", "ack_latency_ms")
            }
            if best
            else None
        )
    lg.disconnect()
    return out


def run(args: argparse.Namespace) -> None:
    if not args.url and target_names(args) != ["ours"]:
        raise SystemExit("bench changes: --targets ours only (the baselines have no reactions)")
    room = "lobby-" if args.lobby else ""
    name = f"changes-{room}{args.members}"
    profile_name = f"profile-{name}{'-' + args.tag if args.tag else ''}"
    opts = RunOpts.from_args(args, profile_name=profile_name)
    plans: list[Plan] = []

    def fn(target: Target, lg: LoadGen, gen_pids: list[int]) -> dict[str, Any]:
        if not plans:
            plans.append(rooms_plan(1, args.members, args.senders, lobby=args.lobby))
        return run_pairs(target, lg, plans[0], opts, gen_pids, args)

    started = time.strftime("%Y-%m-%d %H:%M:%S")
    out = for_targets(args, fn)
    ours = out["results"].get("ours") or {}
    by_rate = {f"{p['rate']:g}/s": p["reaction/send"] for p in ours.get("pairs") or []}
    result = {
        "params": {
            "members": args.members,
            "lobby": args.lobby,
            "senders": args.senders,
            "messages_toggled": args.messages,
            "emoji": args.emoji,
            "pg_waits": args.pg_waits,
            "rates": args.rates,
            "duration_s": args.duration,
            "deflate": args.deflate,
            "workers": args.workers,
        },
        "machine": machine(),
        "started": started,
        **out,
        # reaction / send at each rate (ours against itself: the same run, room and rate).
        "ratios": {
            f"reaction/send {label}": {rate: r[metric] for rate, r in by_rate.items()}
            for metric, label in (
                ("acks_per_s", "acks/s"),
                ("delivery_p50", "delivery p50"),
                ("server_cpu_ms_per_event", "server CPU per event"),
            )
        },
    }
    if args.profile_rate is not None:
        txt = RESULTS_DIR / f"{profile_name}.txt"
        if txt.exists():
            result["profile"] = {
                "svg": f"{profile_name}.svg",
                "rate": args.profile_rate,
                **top_costs(txt),
            }
    save_result(name, result, args.tag or ("deflate" if args.deflate else ""))
