"""The agent desktop: what each agent's page shows, pushed as it changes (`hub`), and the
routes it acts through (`cc_router.http.desktop`)."""

from __future__ import annotations

from cc_router.desk.hub import DesktopHub

__all__ = ["DesktopHub"]
