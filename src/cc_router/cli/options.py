"""Parsing shared by several commands."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import typer

from cc_router.config import Config, ConfigError, load_config


def load_or_exit(path: str | os.PathLike[str], exit_code: int) -> Config:
    """The config in `path`; every problem printed and exit `exit_code` if it has any."""
    try:
        return load_config(path)
    except ConfigError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(exit_code) from None


def parse_when(text: str) -> datetime:
    """An ISO 8601 date or time; one without a zone is read as UTC, as the store keeps it."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 date or time") from None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t
