"""One logging setup for the whole process: structlog lines, stdlib records folded in.

Our own loggers go through structlog's native pipeline (no stdlib `Logger`, no handler
lock, level filtering decided once at configure time) because the decision log writes a
line per routing decision. Libraries that use stdlib `logging` (panoramisk, sqlalchemy,
uvicorn, aiomqtt/paho) get a handler whose formatter runs the same processors, so every
line on the stream has the same shape and passes the same redaction.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import structlog
from structlog.typing import EventDict, Processor

from cc_router.config.models import LoggingConfig
from cc_router.logs.lines import BatchedStream, JsonLines, dumps, iso_now
from cc_router.logs.redact import redact_processor

# Chatty libraries: their INFO lines are per connection or per query, too many for ops.
QUIET_LIBRARIES = (
    "panoramisk",
    "sqlalchemy",
    "uvicorn",
    "uvicorn.access",
    "uvicorn.error",
    "mqtt",
    "aiosqlite",
)

_HANDLER_NAME = "cc_router"


class _NamedWriteLogger(structlog.WriteLogger):
    """A `WriteLogger` that remembers the name it was asked for, for `add_logger_name`."""

    def __init__(self, file: TextIO, name: str) -> None:
        super().__init__(file)
        self.name = name


class _LoggerFactory:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, *args: Any) -> _NamedWriteLogger:
        return _NamedWriteLogger(self.stream, str(args[0]) if args else "")


def _add_logger_name(logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    event_dict["logger"] = record.name if record is not None else getattr(logger, "name", "")
    return event_dict


def _timestamp(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """ISO 8601 UTC like structlog's TimeStamper(fmt="iso", utc=True), a third of the cost."""
    event_dict["timestamp"] = iso_now()
    return event_dict


def _json_dumps(obj: Any, **_kw: Any) -> str:
    return dumps(obj)


_fast: list[JsonLines | None] = [None]
_batched: list[BatchedStream | None] = [None]


def json_lines() -> JsonLines | None:
    """The JSON line renderer on the configured stream and level, or None when lines are
    rendered for a console (see `JsonLines`)."""
    return _fast[0]


def wants_json(config: LoggingConfig, stream: TextIO) -> bool:
    if config.json_ is not None:
        return config.json_
    isatty = getattr(stream, "isatty", None)
    return not (isatty is not None and isatty())


def configure_logging(
    config: LoggingConfig | None = None,
    stream: TextIO | None = None,
    *,
    cache_loggers: bool = True,
) -> None:
    """Set up structlog and stdlib logging; call once at start (again to change settings).

    Lines go to `stream`, stderr by default (stdout stays free for command output such as
    benchmark figures). JSON lines when the stream is not a terminal or `logging.json` is
    true, a readable console otherwise.
    `cache_loggers`: module-level loggers bind to this configuration on first use (fast);
    tests that reconfigure repeatedly pass False.
    """
    config = config or LoggingConfig()
    # The process's own stream is written in batches (logs/lines.py); a stream handed in
    # (tests, tools) is written line by line, so what was logged can be read at once.
    if _batched[0] is not None:
        _batched[0].drain()
        _batched[0] = None
    if stream is None:
        _batched[0] = BatchedStream(sys.stderr)
    out = stream or cast(TextIO, _batched[0])
    level = logging.getLevelNamesMapping()[config.level.value.upper()]
    as_json = wants_json(config, out)

    renderer: Processor
    if as_json:
        renderer = structlog.processors.JSONRenderer(serializer=_json_dumps)
    else:
        isatty = getattr(out, "isatty", None)
        renderer = structlog.dev.ConsoleRenderer(
            colors=bool(isatty and isatty()), exception_formatter=structlog.dev.plain_traceback
        )

    _fast[0] = JsonLines(out, level) if as_json else None
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        _add_logger_name,
        _timestamp,
        structlog.processors.StackInfoRenderer(),
        # Exceptions become text before redaction, so a URL with a password inside an
        # exception message is scrubbed too.
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, redact_processor, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_LoggerFactory(out),
        cache_logger_on_first_use=cache_loggers,
    )

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, redact_processor, renderer],
    )
    handler = logging.StreamHandler(out)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    logging.captureWarnings(True)
