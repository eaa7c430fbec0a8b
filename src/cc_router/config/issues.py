"""One problem found in a config file, and the error that lists them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
