"""Reading the YAML config, checking it as a whole, and turning it into a `CentreSpec`.

Errors are collected, not raised one at a time: a telephony engineer running
`check-config` on a file with five mistakes should see five lines, each with the file,
line, field path and reason. Values are never quoted in messages about secrets, and
pydantic's echo of the offending input is dropped altogether, since a misplaced key could
hold a password.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from cc_router.config.models import (
    DEFAULT_ENDPOINT_TEMPLATE,
    AgentConfig,
    AgentGroupConfig,
    Config,
    ProfileConfig,
)
from cc_router.core import expr
from cc_router.core.spec import (
    AgentSpec,
    CentreSpec,
    ExitKind,
    ExitTarget,
    ProfileSpec,
    QueueSpec,
    RoutingSpec,
    StepSpec,
    default_blocks,
)

ENV_AMI_SECRET = "CC_ROUTER_AMI_SECRET"
ENV_STORE_URL = "CC_ROUTER_STORE_URL"
ENV_API_TOKEN = "CC_ROUTER_API_TOKEN"
ENV_MQTT_PASSWORD = "CC_ROUTER_MQTT_PASSWORD"

Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    loc: Loc
    message: str
    line: int | None = None

    @property
    def path(self) -> str:
        return format_loc(self.loc)

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.path}: {self.message}" if self.loc else f"{where}: {self.message}"


class ConfigError(ValueError):
    """A config that cannot be used; `issues` lists every problem found."""

    def __init__(self, source: str, issues: Sequence[ConfigIssue]) -> None:
        self.source = source
        self.issues = list(issues)
        super().__init__(self._text())

    def _text(self) -> str:
        lines = [i.render(self.source) for i in self.issues]
        if len(lines) == 1:
            return lines[0]
        return f"{self.source}: {len(lines)} errors\n" + "\n".join(f"  {ln}" for ln in lines)


def format_loc(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            out += f'["{part}"]'
    return out


# ---------------------------------------------------------------------- YAML


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """Safe loader that reports duplicate keys, which PyYAML would silently collapse."""

    duplicates: list[ConfigIssue]

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        out: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        if len(out) == len(node.value):
            return out  # the common case, checked without constructing keys twice
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                dup = key in seen
                seen.add(key)
            except TypeError:
                continue
            if dup:
                self.duplicates.append(
                    ConfigIssue(
                        (), f"duplicate key {key!r} (the later one would win)", key_node.start_mark.line + 1
                    )
                )
        return out


_AGENTS_KEY = re.compile(r"^agents:[ \t]*(#.*)?$")
_FLOW_LINE = re.compile(r"^([ \t]*)- (\{.*\})[ \t]*$")
_FAST_MIN = 1000


def _split_flow_agents(text: str) -> tuple[str, list[Any]] | None:
    """Pull out a top-level `agents:` list written one JSON object per line.

    libyaml composes nodes quickly but PyYAML builds Python objects slowly (about 3 s for
    20,000 agents on the CI machines); JSON is valid YAML, and `json` reads those lines
    ~30x faster. Anything not exactly in that shape falls back to the YAML parser, so
    hand-written files behave the same either way.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if _AGENTS_KEY.match(ln.rstrip("\r\n"))), None)
    if start is None:
        return None
    items: list[Any] = []
    indent: str | None = None
    end = start + 1
    decoder = json.JSONDecoder(object_pairs_hook=_no_duplicates)
    while end < len(lines):
        ln = lines[end].rstrip("\r\n")
        m = _FLOW_LINE.match(ln)
        if m is not None and (indent is None or m.group(1) == indent):
            indent = m.group(1)
            try:
                items.append(decoder.decode(m.group(2)))
            except ValueError:
                return None
        elif ln.strip() and not ln.lstrip().startswith("#"):
            if ln[:1] in (" ", "\t", "-"):
                return None  # more of the agents list in another shape
            break
        end += 1
    if len(items) < _FAST_MIN:
        return None
    # Blank lines keep every other line where it was, for error line numbers.
    rest = [*lines[:start], "agents: []\n", *("\n" for _ in range(end - start - 1)), *lines[end:]]
    return "".join(rest), items


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate key")  # let the YAML path report it with its line
    return out


def _load_yaml(text: str, source: str) -> Any:
    fast = _split_flow_agents(text)
    if fast is not None:
        data = _load_yaml_text(fast[0], source)
        if isinstance(data, dict) and data.get("agents") == []:
            data["agents"] = fast[1]
            return data
    return _load_yaml_text(text, source)


def _load_yaml_text(text: str, source: str) -> Any:
    loader = _Loader(text)
    loader.duplicates = []
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        # Only the problem text: PyYAML's snippet would print the line, which may be a secret.
        reason = " ".join(x for x in (e.context, e.problem) if x) or "YAML syntax error"
        col = f" (column {mark.column + 1})" if mark is not None else ""
        if e.context_mark is not None and e.context_mark is not mark and e.context_mark.line + 1 != line:
            # An unclosed quote or bracket is detected far from where it was opened.
            col += f", started at line {e.context_mark.line + 1}"
        raise ConfigError(source, [ConfigIssue((), f"YAML syntax error: {reason}{col}", line)]) from None
    except yaml.YAMLError as e:
        raise ConfigError(source, [ConfigIssue((), f"YAML error: {type(e).__name__}")]) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError(source, loader.duplicates)
    return data


def _line_of(text: str | None, loc: Loc) -> int | None:
    """1-based line of the deepest YAML node on `loc` (only called when reporting errors)."""
    if not text:
        return None
    try:
        node = yaml.compose(text, Loader=yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    best: yaml.Node = node
    for part in loc:
        nxt: yaml.Node | None = None
        if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            nxt = node.value[part]
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(part):
                    # A missing/unknown key is best shown at the key itself.
                    best = k
                    nxt = v
                    break
        if nxt is None:
            break
        node = best = nxt
    return best.start_mark.line + 1


# ---------------------------------------------------------------------- environment

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def substitute_env(data: Any, env: Mapping[str, str], issues: list[ConfigIssue], loc: Loc = ()) -> Any:
    """Replace `${VAR}` / `${VAR:-default}` in every string; `$$` is a literal `$`."""
    if isinstance(data, str):
        if "$" not in data:
            return data

        def repl(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name, default = m.group(1), m.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            issues.append(
                ConfigIssue(loc, f"environment variable {name} is not set (write ${{{name}:-default}})")
            )
            return ""

        return _ENV_REF.sub(repl, data)
    if isinstance(data, dict):
        return {k: substitute_env(v, env, issues, (*loc, str(k))) for k, v in data.items()}
    if isinstance(data, list):
        return [substitute_env(v, env, issues, (*loc, i)) for i, v in enumerate(data)]
    return data


def _apply_env_defaults(data: dict[str, Any], env: Mapping[str, str]) -> None:
    # Secrets may stay out of the file entirely (systemd credentials, k8s secrets).
    nodes = data.get("asterisk")
    if ENV_AMI_SECRET in env and isinstance(nodes, list):
        for node in nodes:
            if isinstance(node, dict) and node.get("secret") is None:
                node["secret"] = env[ENV_AMI_SECRET]
    for section, key, var in (("http", "token", ENV_API_TOKEN), ("mqtt", "password", ENV_MQTT_PASSWORD)):
        if var in env:
            sect = data.setdefault(section, {})
            if isinstance(sect, dict) and sect.get(key) is None:
                sect[key] = env[var]
    if ENV_STORE_URL in env:
        # The deployment decides where the database is, whatever the file says.
        store = data.setdefault("store", {})
        if isinstance(store, dict):
            store["url"] = env[ENV_STORE_URL]


def _coerce_dates(data: dict[str, Any]) -> None:
    # YAML turns `2027-01-23` into a date; a window boundary given as a day means its midnight.
    camps = data.get("campaigns")
    if isinstance(camps, list):
        for c in camps:
            if isinstance(c, dict):
                for k in ("start", "end"):
                    v = c.get(k)
                    if isinstance(v, date) and not isinstance(v, datetime):
                        c[k] = datetime.combine(v, time())


# ---------------------------------------------------------------------- entry points


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> Config:
    """Read, check and return the config in `path`; raise `ConfigError` listing every problem.

    `env` defaults to `os.environ` (for `${VAR}` and the CC_ROUTER_* variables).
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(source, [ConfigIssue((), f"cannot read: {e.strerror or e}")]) from None
    except UnicodeDecodeError as e:
        raise ConfigError(source, [ConfigIssue((), f"not UTF-8 (byte {e.start})")]) from None
    return loads_config(text, source=source, env=env)


def loads_config(text: str, source: str = "<string>", env: Mapping[str, str] | None = None) -> Config:
    """Like `load_config`, from YAML text."""
    data = _load_yaml(text, source)
    return parse_config(data, source=source, env=env, text=text)


def parse_config(
    data: Any, source: str = "<data>", env: Mapping[str, str] | None = None, text: str | None = None
) -> Config:
    """Check already-parsed YAML data (`text`, if given, is only used for line numbers)."""
    env = os.environ if env is None else env
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue((), "the top level must be a mapping of sections")])
    issues: list[ConfigIssue] = []
    data = substitute_env(data, env, issues)
    _apply_env_defaults(data, env)
    _coerce_dates(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        issues.extend(_from_pydantic(e))
        raise ConfigError(source, _with_lines(issues, text)) from None
    issues.extend(check(config))
    if issues:
        raise ConfigError(source, _with_lines(issues, text))
    tz = config.centre.tz
    config.campaigns = [c.localized(tz) for c in config.campaigns]
    config._source = source
    return config


def _with_lines(issues: list[ConfigIssue], text: str | None) -> list[ConfigIssue]:
    if text is None:
        return issues
    return [i if i.line is not None else ConfigIssue(i.loc, i.message, _line_of(text, i.loc)) for i in issues]


# ---------------------------------------------------------------------- pydantic errors


def _from_pydantic(err: ValidationError) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        loc: Loc = tuple(e["loc"])
        kind = e["type"]
        msg = e["msg"]
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            msg = f"bad key: {msg}"
        elif kind == "extra_forbidden" and loc:
            key = str(loc[-1])
            msg = f"unknown key {key!r}"
            known = _fields_at(loc[:-1])
            if known:
                close = difflib.get_close_matches(key, known, n=1)
                msg += (
                    f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(known)})"
                )
        elif kind == "missing":
            msg = "required key is missing"
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        out.append(ConfigIssue(loc, msg))
    return out


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _fields_at(loc: Loc) -> list[str] | None:
    """Key names allowed at `loc` (for "did you mean"), following the model's annotations."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            by_key = {(f.alias or n): f for n, f in tp.model_fields.items()}
            field = by_key.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [(f.alias or n) for n, f in tp.model_fields.items()]
    return None


# ---------------------------------------------------------------------- whole-file checks


def check(config: Config) -> list[ConfigIssue]:
    """Relations between sections: names that must exist, be unique, or agree."""
    issues: list[ConfigIssue] = []
    add = issues.append
    skills = config.skill_names

    seen: dict[str, int] = {}
    for i, s in enumerate(config.skills):
        if s.name in seen:
            add(
                ConfigIssue(
                    ("skills", i, "name"), f"skill {s.name!r} already declared at skills[{seen[s.name]}]"
                )
            )
        seen.setdefault(s.name, i)

    nodes: dict[str, int] = {}
    for i, node in enumerate(config.asterisk):
        if node.name in nodes:
            add(
                ConfigIssue(
                    ("asterisk", i, "name"),
                    f"node {node.name!r} already defined at asterisk[{nodes[node.name]}]",
                )
            )
        nodes.setdefault(node.name, i)
        if node.secret is None:
            add(
                ConfigIssue(
                    ("asterisk", i, "secret"),
                    f"no AMI secret: set it here or in the environment variable {ENV_AMI_SECRET}",
                )
            )

    pools: dict[str, int] = {}
    for i, pool in enumerate(config.seat_pools):
        if pool.name in pools:
            add(
                ConfigIssue(
                    ("seat_pools", i, "name"),
                    f"seat pool {pool.name!r} already defined at seat_pools[{pools[pool.name]}]",
                )
            )
        pools.setdefault(pool.name, i)
        if pool.node is not None and pool.node not in nodes:
            add(
                ConfigIssue(
                    ("seat_pools", i, "node"), f"unknown Asterisk node {pool.node!r}{_choices(nodes)}"
                )
            )
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
        if q.name in queues:
            add(
                ConfigIssue(
                    ("queues", i, "name"), f"duplicate queue {q.name!r} (also queues[{queues[q.name]}])"
                )
            )
        queues.setdefault(q.name, i)
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

    for number, route in config.numbers.items():
        if route.queue not in queues:
            add(ConfigIssue(("numbers", number, "queue"), f"unknown queue {route.queue!r}{_choices(queues)}"))

    tz = config.centre.tz
    names: dict[str, int] = {}
    windows: dict[tuple[str, str], list[tuple[int, datetime, datetime]]] = {}
    for i, camp in enumerate(config.campaigns):
        loc = ("campaigns", i)
        if camp.name in names:
            add(
                ConfigIssue(
                    (*loc, "name"), f"duplicate campaign {camp.name!r} (also campaigns[{names[camp.name]}])"
                )
            )
        names.setdefault(camp.name, i)
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


# ---------------------------------------------------------------------- to the core


def _profile_spec(name: str, p: ProfileConfig) -> ProfileSpec:
    blocks = default_blocks() if p.blocks is None else {ch: frozenset(b) for ch, b in p.blocks.items()}
    return ProfileSpec(name=name, capacity=dict(p.capacity), blocks=blocks)


def iter_agents(config: Config) -> Iterator[AgentSpec]:
    """Explicit agents then expanded groups, in file order, with endpoints filled in."""
    pools = config.all_pools()

    def template(pool: str) -> str:
        p = pools.get(pool)
        return p.endpoint_template if p is not None else DEFAULT_ENDPOINT_TEMPLATE

    for a in config.agents:
        endpoint = a.endpoint if a.endpoint is not None else template(a.pool).format(id=a.id, n=1)
        yield AgentSpec(a.id, a.name, a.pool, a.profile, dict(a.skills), a.weight, endpoint)
    for g in config.agent_groups:
        tmpl = g.endpoint_template or template(g.pool)
        # One mapping shared by the group: AgentSpec is frozen and the core never mutates it.
        skills = dict(g.skills)
        for n, (aid, name) in enumerate(g.expand(), start=1):
            yield AgentSpec(aid, name, g.pool, g.profile, skills, g.weight, tmpl.format(id=aid, n=n))


def build_centre(config: Config) -> CentreSpec:
    """The `CentreSpec` for the routing core (assumes `config` passed `check`)."""
    profiles = {name: _profile_spec(name, p) for name, p in config.all_profiles().items()}
    queues = tuple(
        QueueSpec(
            name=q.name,
            channel=q.channel,
            requirement=q.requirement,
            priority=q.priority,
            strategy=q.strategy,
            service_level_s=q.service_level_s,
            wrapup_s=q.wrapup_s,
            ring_timeout_s=q.ring_timeout_s,
            max_wait_s=q.max_wait_s,
            max_length=q.max_length,
            on_max_wait=q.on_max_wait,
            on_max_length=q.on_max_length,
            on_empty=q.on_empty,
            steps=tuple(StepSpec(s.after_s, s.requirement, s.priority_boost) for s in q.steps),
        )
        for q in config.queues
    )
    r = config.routing
    return CentreSpec(
        skills=config.skill_names,
        profiles=profiles,
        agents=tuple(iter_agents(config)),
        queues=queues,
        routing=RoutingSpec(
            max_misses=r.max_misses,
            miss_pause_reason=r.miss_pause_reason,
            miss_exclusion_s=r.miss_exclusion_s,
            direct_fallback_s=r.direct_fallback_s,
            offer_grace_s=r.offer_grace_s,
            seed=r.seed,
        ),
    )


def summary(config: Config) -> str:
    """One line for `check-config` and startup logs."""
    agents = len(config.agents) + sum(g.count for g in config.agent_groups)
    return (
        f"{config.source}: OK: {agents} agents, {len(config.skills)} skills, {len(config.queues)} queues, "
        f"{len(config.all_pools())} seat pools, {len(config.numbers)} numbers, "
        f"{len(config.asterisk)} Asterisk nodes, {len(config.campaigns)} campaigns"
    )


__all__ = [
    "ConfigError",
    "ConfigIssue",
    "build_centre",
    "check",
    "iter_agents",
    "load_config",
    "loads_config",
    "parse_config",
    "substitute_env",
    "summary",
]
