"""Keep secrets out of log lines, whatever a caller hands the logger.

Three leaks are covered: a field whose *name* says it is secret (`password=...`,
`api_token=...`, an `Authorization` header), a pydantic `SecretStr` anywhere in a value
(a config dumped whole), and credentials written inside text (`postgresql://u:pw@host`,
`secret=abc` in an exception message, `Bearer abc`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, SecretBytes, SecretStr
from structlog.typing import EventDict

from cc_router.url_redaction import MASK, redact_url

_SECRET_KEY = re.compile(r"secret|passw|pwd|token|authori[sz]ation|api[_-]?key|cookie|credential", re.I)
_INLINE_SECRET = re.compile(
    r"(?i)((?:secret|passw(?:or)?d|pwd|token|api[_-]?key)[\w.-]*\s*[=:]\s*['\"]?)[^\s'\",;&}]+"
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")

# Keys repeat from line to line; deciding once per name keeps redaction off the profile.
_key_cache: dict[str, bool] = {}


def secret_key(key: str) -> bool:
    known = _key_cache.get(key)
    if known is None:
        known = bool(_SECRET_KEY.search(key))
        if len(_key_cache) < 10_000:
            _key_cache[key] = known
    return known


def scrub_text(text: str) -> str:
    """Mask credentials written inside free text (URLs, `secret=...`, bearer tokens)."""
    if "=" not in text and ":" not in text and " " not in text:
        return text  # ids, names, states: nothing below can match
    if "@" in text and "://" in text:
        text = redact_url(text)
    # Case-insensitive regexes are slow; plain substring tests on the lowered text decide
    # whether one is worth running (most lines hold no such word).
    low = text.lower()
    if ("=" in text or ":" in text) and (
        "secret" in low or "passw" in low or "pwd" in low or "token" in low or "key" in low
    ):
        text = _INLINE_SECRET.sub(r"\1" + MASK, text)
    if "bearer " in low or "basic " in low:
        text = _BEARER.sub(r"\1 " + MASK, text)
    return text


def redact_value(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, SecretStr | SecretBytes):
        return MASK
    if depth > 8:
        return "<too deep>"
    if isinstance(value, BaseModel):
        # python mode keeps SecretStr objects, so the masking below still sees them
        value = value.model_dump(mode="python", by_alias=True)
    if isinstance(value, Mapping):
        return {
            k: (
                MASK if isinstance(k, str) and secret_key(k) and v is not None else redact_value(v, depth + 1)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_value(v, depth + 1) for v in value]
    if isinstance(value, bytes):
        return value
    # Anything else is rendered as text by the renderer: scrub that text now.
    return scrub_text(str(value))


_PLAIN = (int, float, bool)
# Filled in by our own processors, never from a caller.
_OURS = frozenset(("timestamp", "level", "logger"))


def redact_processor(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor; place it after exceptions are formatted, right before rendering."""
    for key, value in event_dict.items():
        if value is None or value.__class__ in _PLAIN or key in _OURS:
            continue
        if secret_key(key):
            event_dict[key] = MASK
        elif value.__class__ is str:
            # `"://" in` / `"=" in` are checked inside; plain words cost three `in` tests.
            event_dict[key] = scrub_text(value)
        else:
            event_dict[key] = redact_value(value)
    return event_dict
