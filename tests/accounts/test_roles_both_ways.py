"""Role rules not covered elsewhere, each both ways: a caller's priority, the viewer's
masked reads on a server reachable beyond loopback (JSON and the wallboard's stream), and
what a failed or rate-limited login writes to the log."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from cc_router.accounts import book as book_module
from cc_router.config.models import LoggingConfig, LogLevel
from cc_router.core import events as ev
from cc_router.http import HttpComponent
from cc_router.logs import configure_logging
from tests.accounts.conftest import PASSWORD, Env, make_env

pytestmark = pytest.mark.asyncio

CALLER = "13800138000"


async def test_priority_needs_a_supervisor_whose_scope_has_the_queue(env: Env) -> None:
    s = env.service
    s.submit(ev.InteractionArrived("c1", "billing", caller=CALLER))
    s.submit(ev.InteractionArrived("c2", "billing", caller="13900139000"))
    url = "/api/interactions/c2/priority"
    for user in ("zhang", "screen", "sales_sup", "north"):
        # An agent, a viewer, a supervisor of another queue, one scoped to a seat pool only.
        r = await env.client.post(url, headers=env.bearer(await env.login(user)), json={"priority": 9})
        assert r.status_code == 403, (user, r.text)
    assert s.router.interactions["c2"].priority == 0 and s.router.position("c2") == 2
    # A supervisor of the whole centre, and one scoped to billing, may.
    r = await env.client.post(url, headers=env.bearer(await env.login("boss")), json={"priority": 9})
    assert r.status_code == 200 and r.json()["position"] == 1
    from cc_router.accounts.users import add_user

    await add_user(env.engine, "billing_sup", "supervisor", PASSWORD, queues=frozenset({"billing"}))
    await env.book.refresh()
    r = await env.client.post(
        "/api/interactions/c1/priority",
        headers=env.bearer(await env.login("billing_sup")),
        json={"priority": 10},
    )
    assert r.status_code == 200 and r.json()["position"] == 1
    assert s.router.interactions["c1"].priority == 10


async def _first_sse(env: Env, path: str) -> str:
    """The first message of an endless event stream, straight from the ASGI app."""
    app = next(c for c in env.service.components if isinstance(c, HttpComponent)).app
    got: list[bytes] = []
    first = asyncio.Event()
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if not asked:
            asked = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # the client never hangs up on its own
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message
        elif message["type"] == "http.response.body" and b"event: snapshot" in message.get("body", b""):
            got.append(message["body"])
            first.set()

    path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"test")],
        "client": ("192.0.2.10", 5000),
        "server": ("test", 80),
    }
    task = asyncio.create_task(app(scope, receive, send))
    try:
        await asyncio.wait_for(first.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return got[0].decode()


async def test_viewer_beyond_loopback_sees_no_caller_numbers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CC_ROUTER_API_TOKEN", raising=False)
    e = await make_env(tmp_path, host="0.0.0.0")
    try:
        e.service.submit(ev.InteractionArrived("c1", "billing", caller=CALLER))
        screen = await e.login("screen")
        boss = await e.login("boss")
        # Anonymous: nothing at all.
        assert (await e.client.get("/api/interactions")).status_code == 401
        assert (await e.client.get("/api/queues/billing")).status_code == 401
        for path in ("/api/interactions", "/api/queues/billing", "/api/queues"):
            seen = await e.client.get(path, headers=e.bearer(screen))
            assert seen.status_code == 200 and CALLER not in seen.text, (path, seen.text)
            full = await e.client.get(path, headers=e.bearer(boss))
            assert full.status_code == 200
            if path != "/api/queues":
                assert CALLER in full.text, (path, full.text)
        assert (await e.client.get("/api/interactions", headers=e.bearer(screen))).json()["interactions"][0][
            "caller"
        ] == "***"
        # The wallboard's stream, as a wallboard screen opens it (token in the query).
        masked = await _first_sse(e, f"/api/stream?token={screen}")
        assert CALLER not in masked and '"caller":"***"' in masked
        assert CALLER in await _first_sse(e, f"/api/stream?token={boss}")
        # The viewer still cannot act.
        r = await e.client.post(
            "/api/interactions/c1/priority", headers=e.bearer(screen), json={"priority": 1}
        )
        assert r.status_code == 403
    finally:
        await e.client.aclose()
        await e.engine.dispose()


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    configure_logging(LoggingConfig(level=LogLevel.DEBUG), stream=stream, cache_loggers=False)
    # A fresh proxy: the module's own may be bound to an earlier configuration.
    monkeypatch.setattr(book_module, "log", structlog.get_logger("cc_router.accounts"))
    yield stream
    structlog.reset_defaults()
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == "cc_router":
            root.removeHandler(h)
    root.setLevel(logging.WARNING)


async def test_failed_and_rate_limited_logins_are_logged_without_the_password(
    env: Env, log_lines: io.StringIO
) -> None:
    wrong = "Wrong-Pass-Word-42"
    for _ in range(5):
        r = await env.client.post("/api/auth/login", json={"user": "wang", "password": wrong})
        assert r.status_code == 401
    r = await env.client.post("/api/auth/login", json={"user": "wang", "password": PASSWORD})
    assert r.status_code == 429
    r = await env.client.post("/api/auth/login", json={"user": "zhang", "password": PASSWORD})
    assert r.status_code == 200
    text = log_lines.getvalue()
    lines = [json.loads(x) for x in text.splitlines() if x.strip()]
    events = [(x["event"], x.get("user")) for x in lines if str(x["event"]).startswith("login")]
    assert events.count(("login_failed", "wang")) == 5
    assert ("login_refused_rate_limit", "wang") in events
    assert ("login", "zhang") in events
    failed = next(x for x in lines if x["event"] == "login_failed")
    assert failed["why"] == "wrong password" and failed["client"]
    # Neither the wrong password nor the right one, nor the session token, is in any line.
    token = r.json()["token"]
    for secret in (wrong, PASSWORD, token):
        assert secret not in text
