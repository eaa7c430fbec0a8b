"""Parsing shared by several commands."""

from __future__ import annotations

from datetime import UTC, datetime

import typer


def parse_when(text: str) -> datetime:
    """An ISO 8601 date or time; one without a zone is read as UTC, as the store keeps it."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date or time") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t
