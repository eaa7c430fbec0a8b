"""Requirement expressions over agent skills: `lang_zh >= 3 and (billing >= 2 or vip)`.

A bare skill name means "level >= 1"; a skill the agent lacks has level 0. Words
(`and`, `or`, `not`) and symbols (`&`, `|`, `!`) are both accepted.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

_COMPARE: dict[str, Callable[[int, int], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "=": operator.eq,
    "!=": operator.ne,
}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+)|(?P<op>>=|<=|==|!=|>|<|=)|(?P<punct>[()&|!])|(?P<name>[^\W\d][\w.-]*))"
)


class ExpressionError(ValueError):
    """A requirement expression that cannot be parsed or names an unknown skill."""


@dataclass(frozen=True, slots=True)
class Compare:
    skill: str
    op: str
    level: int

    def __str__(self) -> str:
        return self.skill if (self.op, self.level) == (">=", 1) else f"{self.skill} {self.op} {self.level}"


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node

    def __str__(self) -> str:
        return f"not {_wrap(self.operand)}"


@dataclass(frozen=True, slots=True)
class All:
    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(o) for o in self.operands) if self.operands else "true"


@dataclass(frozen=True, slots=True)
class Any:
    operands: tuple[Node, ...]

    def __str__(self) -> str:
        return " or ".join(_wrap(o) for o in self.operands) if self.operands else "false"


Node = Compare | Not | All | Any


def _wrap(node: Node) -> str:
    return f"({node})" if isinstance(node, All | Any) and len(node.operands) > 1 else str(node)


TRUE = All(())
FALSE = Any(())


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ExpressionError(f"unexpected {text[pos:].strip()[:20]!r} at column {pos + 1}")
        pos = m.end()
        kind = m.lastgroup
        assert kind is not None
        value = m.group(kind)
        if kind == "name" and value.lower() in ("and", "or", "not", "true", "false"):
            kind, value = "word", value.lower()
        elif kind == "punct":
            kind, value = "word", {"&": "and", "|": "or", "!": "not"}.get(value, value)
        out.append((kind, value))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise ExpressionError("expression ends too early")
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            return TRUE
        node = self.parse_or()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while self.peek() == ("word", "or"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Any(tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while self.peek() == ("word", "and"):
            self.take()
            parts.append(self.parse_not())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def parse_not(self) -> Node:
        if self.peek() == ("word", "not"):
            self.take()
            return Not(self.parse_not())
        return self.parse_atom()

    def parse_atom(self) -> Node:
        kind, value = self.take()
        if (kind, value) == ("word", "("):
            node = self.parse_or()
            if self.peek() != ("word", ")"):
                raise ExpressionError("missing ')'")
            self.take()
            return node
        if (kind, value) == ("word", "true"):
            return TRUE
        if (kind, value) == ("word", "false"):
            return FALSE
        if kind != "name":
            raise ExpressionError(f"expected a skill name, got {value!r}")
        nxt = self.peek()
        if nxt is not None and nxt[0] == "op":
            op = self.take()[1]
            num_kind, num = self.take()
            if num_kind != "num":
                raise ExpressionError(f"expected a level after {value} {op}, got {num!r}")
            return Compare(value, "==" if op == "=" else op, int(num))
        return Compare(value, ">=", 1)


def parse(text: str, known_skills: Collection[str] | None = None) -> Node:
    """Parse `text`; with `known_skills`, an unknown skill name is an error."""
    node = _Parser(text).parse()
    if known_skills is not None:
        unknown = sorted(s for s in skills_of(node) if s not in known_skills)
        if unknown:
            raise ExpressionError(f"unknown skill {', '.join(unknown)}")
    return node


def skills_of(node: Node) -> set[str]:
    if isinstance(node, Compare):
        return {node.skill}
    if isinstance(node, Not):
        return skills_of(node.operand)
    out: set[str] = set()
    for o in node.operands:
        out |= skills_of(o)
    return out


def positive_skills(node: Node) -> tuple[str, ...]:
    """Skills whose level counts towards best-skill scoring (not under a NOT)."""
    found: list[str] = []

    def walk(n: Node, negated: bool) -> None:
        if isinstance(n, Compare):
            if not negated and n.skill not in found and _COMPARE[n.op](n.level + 1, n.level):
                found.append(n.skill)
        elif isinstance(n, Not):
            walk(n.operand, not negated)
        else:
            for o in n.operands:
                walk(o, negated)

    walk(node, False)
    return tuple(found)


def evaluate(node: Node, skills: Mapping[str, int]) -> bool:
    if isinstance(node, Compare):
        return _COMPARE[node.op](skills.get(node.skill, 0), node.level)
    if isinstance(node, Not):
        return not evaluate(node.operand, skills)
    if isinstance(node, All):
        return all(evaluate(o, skills) for o in node.operands)
    return any(evaluate(o, skills) for o in node.operands)


def any_of(nodes: Iterable[Node]) -> Node:
    parts = tuple(nodes)
    return parts[0] if len(parts) == 1 else Any(parts)


class SkillIndex:
    """Agents' skills indexed by skill, so an expression becomes a set of agent ids
    with C-speed set algebra instead of one Python evaluation per agent."""

    def __init__(self) -> None:
        self.everyone: set[str] = set()
        self.levels: dict[str, dict[str, int]] = {}

    def add(self, agent_id: str, skills: Mapping[str, int]) -> None:
        self.everyone.add(agent_id)
        for skill, level in skills.items():
            self.levels.setdefault(skill, {})[agent_id] = level

    def members(self, node: Node) -> set[str]:
        if isinstance(node, Compare):
            cmp = _COMPARE[node.op]
            having = self.levels.get(node.skill, {})
            out = {a for a, lvl in having.items() if cmp(lvl, node.level)}
            if cmp(0, node.level):
                out |= self.everyone - having.keys()
            return out
        if isinstance(node, Not):
            return self.everyone - self.members(node.operand)
        if isinstance(node, All):
            if not node.operands:
                return set(self.everyone)
            sets = sorted((self.members(o) for o in node.operands), key=len)
            return sets[0].intersection(*sets[1:])
        out = set()
        for o in node.operands:
            out |= self.members(o)
        return out
