"""What a `viewer` sees: live state with callers' numbers and names blanked out."""

from __future__ import annotations

from typing import Any

PERSONAL_KEYS = frozenset({"caller", "customer", "caller_name", "from", "to"})
HIDDEN = "***"


def hide_callers(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: (HIDDEN if k in PERSONAL_KEYS and v else hide_callers(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [hide_callers(v) for v in data]
    return data
