"""Reading YAML text: duplicate keys reported, a fast path for long agent lists, and the
line number of any field path (for error messages)."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from cc_router.config.issues import ConfigError, ConfigIssue, Loc


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


def _json_document(text: str) -> dict[str, Any] | None:
    """The whole file as JSON, when it is a JSON object (machine-written configs).

    JSON is YAML, so this reads what the YAML parser would, only ~100x faster for 20,000
    agents (PyYAML's object building dominates a restart's config load otherwise).
    Anything else, including a JSON file with a duplicate key or a syntax error, goes to
    the YAML parser, which reports it with its line."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_not_yaml)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _not_yaml(name: str) -> Any:
    raise ValueError(f"{name} is a string in YAML")  # NaN, Infinity: leave them to YAML


def load_yaml(text: str, source: str) -> Any:
    whole = _json_document(text)
    if whole is not None:
        return whole
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


def line_of(text: str | None, loc: Loc) -> int | None:
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


def with_lines(issues: list[ConfigIssue], text: str | None) -> list[ConfigIssue]:
    """`issues` with a line number from `text` wherever one was not known yet."""
    if text is None:
        return issues
    return [i if i.line is not None else ConfigIssue(i.loc, i.message, line_of(text, i.loc)) for i in issues]
