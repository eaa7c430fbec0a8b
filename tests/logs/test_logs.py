"""Log setup, the decision log and redaction (no services needed)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from cc_router.config import loads_config
from cc_router.config.models import LoggingConfig, LogLevel
from cc_router.core import events as ev
from cc_router.logs import attach_decision_log, configure_logging, scrub_text
from cc_router.logs.bench import call_commands
from cc_router.logs.decisions import DecisionLog
from cc_router.service import Service

CENTRE = """
skills: [billing]
agents:
  - {id: "1001", skills: {billing: 5}}
  - {id: "1002", skills: {billing: 3}}
queues:
  - {name: billing, requirement: billing, on_max_length: hangup, max_length: 1}
asterisk:
  - {name: pbx1, host: 127.0.0.1, username: ccrouter, secret: s3cr3t-ami}
http: {token: s3cr3t-api}
mqtt: {password: s3cr3t-mqtt}
store: {url: "postgresql+asyncpg://ccr:s3cr3t-db@127.0.0.1/ccr"}
"""
SECRETS = ("s3cr3t-ami", "s3cr3t-api", "s3cr3t-mqtt", "s3cr3t-db", "hunter2")


class Capture(io.StringIO):
    def __init__(self, tty: bool = False) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.getvalue().splitlines() if line.strip()]


@pytest.fixture
def out() -> Iterator[Capture]:
    stream = Capture()
    configure_logging(LoggingConfig(level=LogLevel.DEBUG), stream=stream, cache_loggers=False)
    yield stream
    structlog.reset_defaults()
    root = logging.getLogger()
    for h in list(root.handlers):
        if h.get_name() == "cc_router":
            root.removeHandler(h)
    root.setLevel(logging.WARNING)


def test_json_lines_parse_and_carry_fields(out: Capture) -> None:
    structlog.get_logger("cc_router.test").info("hello", agent_id="1001", name="陈静")
    (line,) = out.lines()
    assert line["event"] == "hello" and line["agent_id"] == "1001" and line["name"] == "陈静"
    assert line["level"] == "info" and line["logger"] == "cc_router.test" and "timestamp" in line


def test_stdlib_logging_goes_through_structlog(out: Capture) -> None:
    logging.getLogger("somelib").warning("disk %s full", "/var")
    logging.getLogger("sqlalchemy.engine").info("SELECT 1")  # quietened to WARNING
    (line,) = out.lines()
    assert line["event"] == "disk /var full" and line["level"] == "warning" and line["logger"] == "somelib"


def test_console_when_terminal() -> None:
    stream = Capture(tty=True)
    try:
        configure_logging(LoggingConfig(), stream=stream, cache_loggers=False)
        structlog.get_logger("t").info("hello", agent_id="1001")
        text = stream.getvalue()
        assert "hello" in text and "agent_id" in text and not text.lstrip().startswith("{")
    finally:
        structlog.reset_defaults()


def test_decision_lines(out: Capture) -> None:
    config = loads_config(CENTRE, env={})
    service = Service.from_config(config)
    attach_decision_log(service)
    service.submit(ev.AgentLoggedIn("1001"), now=1.0)
    service.submit(ev.InteractionArrived("c1", "billing", caller="13800138000"), now=2.0)
    service.submit(ev.InteractionArrived("c2", "billing"), now=2.5)  # waits
    service.submit(ev.InteractionArrived("c3", "billing"), now=2.6)  # beyond max_length: exit
    service.submit(ev.OfferAccepted("c1", "1001"), now=3.0)
    service.submit(ev.InteractionEnded("c1"), now=10.0)
    service.submit(ev.AgentPaused("9999"), now=11.0)
    lines = out.lines()
    by_event: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_event.setdefault(line["event"], []).append(line)
    offer = by_event["offer"][0]
    assert offer["interaction_id"] == "c1" and offer["agent_id"] == "1001" and offer["queue"] == "billing"
    assert offer["strategy"] == "longest_idle" and offer["step"] == 0
    assert offer["reason"].startswith("arrival: longest_idle step 0") and "chose 1001" in offer["reason"]
    assert offer["candidates"] >= 1 and offer["excluded"] == []
    (exit_line,) = by_event["exit"]
    assert exit_line["interaction_id"] == "c3" and exit_line["target"] == "hangup"
    assert exit_line["reason"] == "max_length"
    finished = {f["interaction_id"]: f for f in by_event["finished"]}
    assert finished["c1"]["outcome"] == "answered" and finished["c1"]["wait_s"] == 1.0
    assert finished["c1"]["talk_s"] == 7.0
    (rejected,) = by_event["event_rejected"]
    assert rejected["level"] == "warning" and "unknown agent" in rejected["reason"]
    assert rejected["agent_id"] == "9999"
    assert {line["level"] for line in by_event["agent_state"]} == {"debug"}
    # Every line about an interaction names it; the caller's number is not logged.
    for line in lines:
        if line["event"] in ("offer", "queued", "connected", "finished", "exit", "offer_cancelled"):
            assert line["interaction_id"] in ("c1", "c2", "c3")
    assert "13800138000" not in out.getvalue()


def test_decision_log_respects_level() -> None:
    stream = Capture()
    try:
        configure_logging(LoggingConfig(level=LogLevel.INFO), stream=stream, cache_loggers=False)
        DecisionLog()(call_commands(1), 0.0)
        assert [line["event"] for line in stream.lines()] == ["queued", "offer", "connected", "finished"]
    finally:
        structlog.reset_defaults()


def test_secrets_never_logged(out: Capture) -> None:
    config = loads_config(CENTRE, env={})
    log = structlog.get_logger("cc_router.test")
    log.info("config_loaded", config=config)  # the whole config, SecretStr fields and all
    log.info("asterisk", node=config.asterisk[0])
    log.info("connect", url="postgresql://ccr:hunter2@db:5432/ccr", password="hunter2")
    log.info("headers", headers={"Authorization": "Bearer hunter2", "X-Api-Token": "hunter2"})
    log.info("api", api_token=SecretStr("hunter2"), extra=["mqtt://u:hunter2@broker"])
    log.info("text", detail="login failed for secret=hunter2 and token: hunter2")
    try:
        raise ConnectionError("cannot reach redis://:hunter2@cache:6379/0")
    except ConnectionError:
        log.exception("failed")
    logging.getLogger("panoramisk").error("login with secret=%s refused", "hunter2")
    text = out.getvalue()
    for secret in SECRETS:
        assert secret not in text
    lines = out.lines()
    assert len(lines) == 8
    assert lines[2]["url"] == "postgresql://ccr:***@db:5432/ccr"
    assert lines[0]["config"]["http"]["token"] == "***"
    assert lines[0]["config"]["asterisk"][0]["host"] == "127.0.0.1"  # the rest is kept


def test_scrub_text_leaves_ordinary_text() -> None:
    for text in ("arrival: longest_idle step 0 [billing >= 2] chose 1001 of 3", "PJSIP/1001", "a b c"):
        assert scrub_text(text) == text
    assert scrub_text("amqp://guest:guest@h/") == "amqp://guest:***@h/"
