"""Reading a config file: YAML, then `${VAR}` and CC_ROUTER_* variables, then the models,
then the checks across sections.

Errors are collected, not raised one at a time: a telephony engineer running
`check-config` on a file with five mistakes should see five lines, each with the file,
line, field path and reason. Values are never quoted in messages about secrets, and
pydantic's echo of the offending input is dropped altogether, since a misplaced key could
hold a password.

The steps live in their own modules: `yaml_source` (text to data, line numbers),
`environment` (every CC_ROUTER_* variable), `pydantic_errors`, `checks`, and `convert`
(to the core's `CentreSpec`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cc_router.config import environment
from cc_router.config.checks import check
from cc_router.config.issues import ConfigError, ConfigIssue
from cc_router.config.models import Config
from cc_router.config.pydantic_errors import from_pydantic
from cc_router.config.yaml_source import load_yaml, with_lines


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

    `env` defaults to the process environment (for `${VAR}` and the CC_ROUTER_* variables).
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
    data = load_yaml(text, source)
    return parse_config(data, source=source, env=env, text=text)


def parse_config(
    data: Any, source: str = "<data>", env: Mapping[str, str] | None = None, text: str | None = None
) -> Config:
    """Check already-parsed YAML data (`text`, if given, is only used for line numbers)."""
    env = environment.variables() if env is None else env
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [ConfigIssue((), "the top level must be a mapping of sections")])
    issues: list[ConfigIssue] = []
    data = environment.substitute_env(data, env, issues)
    environment.apply_defaults(data, env)
    _coerce_dates(data)
    try:
        config = Config.model_validate(data)
    except ValidationError as e:
        issues.extend(from_pydantic(e))
        raise ConfigError(source, with_lines(issues, text)) from None
    issues.extend(check(config))
    if issues:
        raise ConfigError(source, with_lines(issues, text))
    tz = config.centre.tz
    config.campaigns = [c.localized(tz) for c in config.campaigns]
    config._source = source
    return config


__all__ = ["load_config", "loads_config", "parse_config"]
