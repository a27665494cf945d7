"""Who connects and who sends in a message scenario: rooms, the lobby, DM pairs.

Owns: turning a scenario's shape into a `Plan` (bench users from bench.fixtures, each with
the rooms or DM pairs it is measured in, and the senders with their event and payload).
Must not: connect or send anything (bench.scenarios.steps runs a plan), or make users or
rooms other than through bench.fixtures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench import fixtures
from bench.targets import LOBBY_ROOM_ID


@dataclass
class Plan:
    """Who connects (users, each with the measured targets it belongs to) and who sends."""

    users: list[dict[str, Any]]
    member_of: dict[int, list[str]]  # user index -> measured targets (room ids, dm:k)
    senders: list[dict[str, Any]]  # {key, event, payload, target}
    description: str
    extra: dict[str, Any] = field(default_factory=dict)


# -- plans ------------------------------------------------------------------------------


def rooms_plan(rooms: int, members: int, senders_per_room: int, lobby: bool = False) -> Plan:
    """R rooms x M members (disjoint users); or the lobby with M members connected."""
    users = fixtures.users(rooms * members)
    if lobby:
        room_ids = [LOBBY_ROOM_ID]
        groups = [users[:members]]
    else:
        groups = [users[k * members : (k + 1) * members] for k in range(rooms)]
        room_ids = fixtures.rooms(f"bench-{rooms}x{members}", groups)
    member_of: dict[int, list[str]] = {}
    for rid, group in zip(room_ids, groups, strict=True):
        for u in group:
            member_of.setdefault(u["index"], []).append(rid)
    senders = []
    s = max(1, min(senders_per_room, members))
    for j in range(s):
        for rid, group in zip(room_ids, groups, strict=True):
            senders.append(
                {
                    "key": group[j]["index"],
                    "event": "send_message",
                    "payload": {"roomId": rid},
                    "target": rid,
                }
            )
    desc = f"lobby x {members} connected" if lobby else f"{rooms} rooms x {members} members"
    return Plan(
        users,
        member_of,
        senders,
        desc,
        {"rooms": rooms, "members": members, "senders": len(senders)},
    )


def dm_plan(pairs: int) -> Plan:
    """`pairs` pairs of users messaging each other; each DM reaches the recipient's socket
    and the sender's own socket (the server echoes new_dm to the sender's user room)."""
    users = fixtures.users(pairs * 2)
    member_of: dict[int, list[str]] = {}
    senders = []
    for k in range(pairs):
        a, b = users[2 * k], users[2 * k + 1]
        tgt = f"dm:{k}"
        member_of[a["index"]] = [tgt]
        member_of[b["index"]] = [tgt]
        senders.append(
            {
                "key": a["index"],
                "event": "send_dm",
                "payload": {"recipientId": b["id"]},
                "target": tgt,
            }
        )
        senders.append(
            {
                "key": b["index"],
                "event": "send_dm",
                "payload": {"recipientId": a["id"]},
                "target": tgt,
            }
        )
    return Plan(
        users, member_of, senders, f"{pairs} DM pairs", {"pairs": pairs, "senders": len(senders)}
    )
