"""`cc-router top`: queues and agents in the terminal, read from the HTTP API."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from cc_router.config import environment

STATE_STYLE = {
    "ready": "green",
    "reserved": "magenta",
    "busy": "cyan",
    "wrap_up": "yellow",
    "paused": "red",
    "logged_out": "dim",
}
STATE_LABEL = {"reserved": "ringing", "busy": "on call", "wrap_up": "wrap-up"}


def _dur(s: float | None) -> str:
    if s is None:
        return "-"
    s = int(max(0, s))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def _pct(p: float | None) -> str:
    return "-" if p is None else f"{p:.0f}%"


def render(queues: dict[str, Any], agents: dict[str, Any], max_agents: int) -> Any:
    """The rich renderable for one poll (queues table, then agents table)."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    th = queues.get("thresholds", {})
    qt = Table(title=f"{queues.get('centre', 'cc-router')} · queues", expand=True, title_justify="left")
    for col, justify in (
        ("Queue", "left"),
        ("Ch", "left"),
        ("Waiting", "right"),
        ("Longest", "right"),
        ("EWT", "right"),
        ("SL today", "right"),
        ("Offered", "right"),
        ("Answered", "right"),
        ("Abandoned", "right"),
        ("ASA", "right"),
        ("Ready", "right"),
        ("Ringing", "right"),
        ("On call", "right"),
        ("Wrap-up", "right"),
        ("Paused", "right"),
    ):
        qt.add_column(col, justify=justify)  # type: ignore[arg-type]
    for q in queues.get("queues", []):
        today, ag = q["today"], q["agents"]
        wstyle = (
            "bold red"
            if q["waiting"] >= th.get("waiting_alarm", 1e9)
            else "yellow"
            if q["waiting"] >= th.get("waiting_warn", 1e9) and q["waiting"]
            else ""
        )
        qt.add_row(
            q["name"],
            q["channel"],
            Text(str(q["waiting"]), style=wstyle),
            _dur(q["longest_wait_s"]) if q["waiting"] else "-",
            # Expected wait of a caller joining now (older servers do not send it).
            _dur(q.get("ewt_new_s")),
            _pct(today["sl_pct"]),
            str(today["offered"]),
            str(today["answered"]),
            str(today["abandoned"]),
            "-" if today["asa_s"] is None else f"{today['asa_s']:.0f}s",
            *(str(ag.get(s, 0)) for s in ("ready", "reserved", "busy", "wrap_up", "paused")),
        )
    at = Table(title="agents (logged in)", expand=True, title_justify="left")
    for col in ("Agent", "Name", "State", "Reason / work", "Time", "Pool"):
        at.add_column(col, justify="right" if col == "Time" else "left")
    rows = sorted(agents.get("agents", []), key=lambda a: (a["state"], a["id"]))
    for a in rows[:max_agents]:
        work = ", ".join(w["queue"] or w["id"] for w in a["interactions"])
        at.add_row(
            a["id"],
            a["name"],
            Text(STATE_LABEL.get(a["state"], a["state"]), style=STATE_STYLE.get(a["state"], "")),
            a["reason"] or work,
            _dur(a["time_in_state_s"]),
            a["pool"],
        )
    if len(rows) > max_agents:
        at.caption = f"... {len(rows) - max_agents} more"
    return Group(qt, at)


def top(
    url: Annotated[
        str, typer.Option(help="Base URL of a running cc-router's HTTP API.")
    ] = "http://127.0.0.1:8080",
    token: Annotated[
        str | None, typer.Option(help="API token if reads need one (default: CC_ROUTER_API_TOKEN).")
    ] = None,
    interval: Annotated[float, typer.Option(min=0.2, help="Seconds between refreshes.")] = 1.0,
    duration: Annotated[
        float, typer.Option(min=0, help="Stop after this many seconds (0: until Ctrl+C).")
    ] = 0.0,
    max_agents: Annotated[int, typer.Option(min=0, help="Agent rows shown at most.")] = 40,
) -> None:
    """Live terminal view of queues and agents (polls the HTTP API)."""
    import httpx
    from rich.console import Console
    from rich.live import Live
    from rich.text import Text

    token = token or environment.api_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    console = Console()
    base = url.rstrip("/")
    deadline = time.monotonic() + duration if duration else None

    def poll(client: httpx.Client) -> Any:
        try:
            q = client.get(f"{base}/api/queues")
            a = client.get(f"{base}/api/agents", params={"logged_out": "false"})
        except httpx.HTTPError as e:
            return Text(f"cannot reach {base}: {e} (retrying)", style="red")
        for r in (q, a):
            if r.status_code == 401:
                console.print(f"{base}: {r.json().get('error', 'unauthorized')}; give --token", style="red")
                raise typer.Exit(1)
            if r.status_code != 200:
                return Text(f"{r.request.url}: HTTP {r.status_code}", style="red")
        return render(q.json(), a.json(), max_agents)

    with httpx.Client(headers=headers, timeout=5.0) as client:
        if console.is_terminal:
            with Live(poll(client), console=console, refresh_per_second=4, screen=False) as live:
                while deadline is None or time.monotonic() < deadline:
                    time.sleep(interval)
                    live.update(poll(client))
        else:
            # Piped or logged: one full table per refresh, no cursor movement.
            while True:
                console.print(poll(client))
                if deadline is not None and time.monotonic() + interval > deadline:
                    break
                time.sleep(interval)


def register(app: typer.Typer) -> None:
    app.command("top")(top)
