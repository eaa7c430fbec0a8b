"""Checks across sections: names that must exist, be unique, or agree."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from cc_router.config import environment
from cc_router.config.issues import ConfigIssue, Loc, format_loc
from cc_router.config.models import AgentConfig, AgentGroupConfig, Config
from cc_router.core import expr
from cc_router.core.spec import Channel, ExitKind, ExitTarget


def check(config: Config) -> list[ConfigIssue]:
    """Relations between sections: names that must exist, be unique, or agree."""
    issues: list[ConfigIssue] = []
    add = issues.append
    skills = config.skill_names

    seen: dict[str, int] = {}
    for i, s in enumerate(config.skills):
        if (j := _repeat(seen, s.name, i)) is not None:
            add(ConfigIssue(("skills", i, "name"), f"skill {s.name!r} already declared at skills[{j}]"))

    nodes: dict[str, int] = {}
    for i, node in enumerate(config.asterisk):
        if (j := _repeat(nodes, node.name, i)) is not None:
            add(ConfigIssue(("asterisk", i, "name"), f"node {node.name!r} already defined at asterisk[{j}]"))
        if not node.tls and not node.allow_plaintext and not _loopback(node.host):
            add(
                ConfigIssue(
                    ("asterisk", i, "host"),
                    f"plaintext AMI to {node.host} is refused: set tls: true (manager.conf tlsenable, "
                    "port 5039) or, on a network you trust, allow_plaintext: true",
                )
            )
        if node.secret is None:
            add(
                ConfigIssue(
                    ("asterisk", i, "secret"),
                    f"no AMI secret: set it here or in the environment variable {environment.AMI_SECRET}",
                )
            )

    pools: dict[str, int] = {}
    for i, pool in enumerate(config.seat_pools):
        if (j := _repeat(pools, pool.name, i)) is not None:
            add(
                ConfigIssue(
                    ("seat_pools", i, "name"), f"seat pool {pool.name!r} already defined at seat_pools[{j}]"
                )
            )
        if pool.node is not None and pool.node not in nodes:
            add(
                ConfigIssue(
                    ("seat_pools", i, "node"), f"unknown Asterisk node {pool.node!r}{_choices(nodes)}"
                )
            )
    pairs: dict[str, int] = {}
    for i, trunk in enumerate(config.trunks):
        for n in trunk.nodes:
            if n not in nodes:
                add(ConfigIssue(("trunks", i, "nodes"), f"unknown Asterisk node {n!r}{_choices(nodes)}"))
        if (j := _repeat(pairs, " ".join(sorted(trunk.nodes)), i)) is not None:
            add(ConfigIssue(("trunks", i, "nodes"), f"the same two nodes as trunks[{j}]"))
    pool_names = config.all_pools().keys()
    profile_names = config.all_profiles().keys()

    for name, prof in config.profiles.items():
        if not any(prof.capacity.values()):
            add(
                ConfigIssue(
                    ("profiles", name, "capacity"), "every capacity is 0: agents with it can take no work"
                )
            )

    owner: dict[str, str] = {}

    def check_agentlike(loc: Loc, a: AgentConfig | AgentGroupConfig) -> None:
        if a.pool not in pool_names:
            add(ConfigIssue((*loc, "pool"), f"unknown seat pool {a.pool!r}{_choices(pool_names)}"))
        if a.profile not in profile_names:
            add(ConfigIssue((*loc, "profile"), f"unknown profile {a.profile!r}{_choices(profile_names)}"))
        for skill in a.skills:
            if skill not in skills:
                add(
                    ConfigIssue(
                        (*loc, "skills", skill), f"unknown skill {skill!r} (not declared under skills)"
                    )
                )

    for i, agent in enumerate(config.agents):
        loc: Loc = ("agents", i)
        check_agentlike(loc, agent)
        first = owner.setdefault(agent.id, format_loc(loc))
        if first != format_loc(loc):
            add(ConfigIssue((*loc, "id"), f"duplicate agent id {agent.id!r} (also {first})"))
    for i, group in enumerate(config.agent_groups):
        loc = ("agent_groups", i)
        check_agentlike(loc, group)
        here = format_loc(loc)
        dups = 0
        for aid, _ in group.expand():
            first = owner.setdefault(aid, here)
            if first != here:
                dups += 1
                if dups <= 3:
                    add(ConfigIssue((*loc, "id_start"), f"duplicate agent id {aid!r} (also {first})"))
        if dups > 3:
            add(ConfigIssue((*loc, "id_start"), f"... {dups - 3} more duplicate agent ids"))

    queues: dict[str, int] = {}
    for i, q in enumerate(config.queues):
        if (j := _repeat(queues, q.name, i)) is not None:
            add(ConfigIssue(("queues", i, "name"), f"duplicate queue {q.name!r} (also queues[{j}])"))
    for i, q in enumerate(config.queues):
        loc = ("queues", i)
        exprs: list[tuple[Loc, str]] = [((*loc, "requirement"), q.requirement)]
        exprs += [((*loc, "steps", j, "requirement"), s.requirement) for j, s in enumerate(q.steps)]
        for eloc, text in exprs:
            try:
                expr.parse(text, skills)
            except expr.ExpressionError as e:
                add(ConfigIssue(eloc, f"{e} in {text!r} (not declared under skills)"))
        for key, target, needs in (
            ("on_max_wait", q.on_max_wait, q.max_wait_s),
            ("on_max_length", q.on_max_length, q.max_length),
            ("on_empty", q.on_empty, True),
        ):
            if target is None:
                continue
            if needs is None:
                add(
                    ConfigIssue(
                        (*loc, key),
                        f"has no effect without {_LIMIT_OF[key]}",
                    )
                )
            msg = _exit_problem(config, q.name, q.channel, target, queues)
            if msg:
                add(ConfigIssue((*loc, key), msg))

    issues += waiting_issues(config, nodes)

    for number, route in config.numbers.items():
        if route.queue not in queues:
            add(ConfigIssue(("numbers", number, "queue"), f"unknown queue {route.queue!r}{_choices(queues)}"))

    tz = config.centre.tz
    names: dict[str, int] = {}
    windows: dict[tuple[str, str], list[tuple[int, datetime, datetime]]] = {}
    for i, camp in enumerate(config.campaigns):
        loc = ("campaigns", i)
        if (j := _repeat(names, camp.name, i)) is not None:
            add(ConfigIssue((*loc, "name"), f"duplicate campaign {camp.name!r} (also campaigns[{j}])"))
        c = camp.localized(tz)
        if c.end <= c.start:
            add(
                ConfigIssue(
                    (*loc, "end"),
                    f"campaign window ends ({c.end.isoformat()}) before it starts ({c.start.isoformat()})",
                )
            )
            continue
        wkey = (c.service_number, c.keyword_key)
        for j, w_start, w_end in windows.get(wkey, []):
            if c.start < w_end and w_start < c.end:
                add(
                    ConfigIssue(
                        (*loc, "keyword"),
                        f"keyword {c.keyword!r} on {c.service_number} overlaps campaigns[{j}]",
                    )
                )
        windows.setdefault(wkey, []).append((i, c.start, c.end))
    return issues


def waiting_issues(config: Config, nodes: Iterable[str]) -> list[ConfigIssue]:
    """Announcements and callbacks are for callers on hold (voice queues); dial strings by
    node name a node that exists."""
    out: list[ConfigIssue] = []
    for i, q in enumerate(config.queues):
        for key in ("announce", "callback"):
            if getattr(q, key) is not None and q.channel is not Channel.VOICE:
                out.append(
                    ConfigIssue(("queues", i, key), f"only for voice queues ({q.name} is {q.channel})")
                )
    known = set(nodes)
    for node in config.callbacks.dial_by_node:
        if node not in known:
            out.append(
                ConfigIssue(
                    ("callbacks", "dial_by_node", node), f"unknown Asterisk node {node!r}{_choices(known)}"
                )
            )
    return out


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _repeat(first: dict[str, int], name: str, i: int) -> int | None:
    """Where `name` was first seen, when entry `i` repeats it; else records `i` as its first."""
    j = first.setdefault(name, i)
    return j if j != i else None


_LIMIT_OF = {"on_max_wait": "max_wait_s", "on_max_length": "max_length", "on_empty": ""}


def _exit_problem(
    config: Config, queue: str, channel: Any, target: ExitTarget, queues: Mapping[str, int]
) -> str | None:
    if target.kind is not ExitKind.QUEUE:
        return None
    if target.value == queue:
        return f"overflow to {target.value!r} is the queue itself"
    if target.value not in queues:
        return f"overflow to unknown queue {target.value!r}{_choices(queues)}"
    other = config.queues[queues[target.value]]
    if other.channel != channel:
        return f"overflow to {target.value!r}, a {other.channel} queue, from a {channel} queue"
    return None


def _choices(names: Any) -> str:
    names = sorted(names)
    if not names:
        return " (none defined)"
    shown = ", ".join(names[:8]) + (", ..." if len(names) > 8 else "")
    return f" (known: {shown})"
