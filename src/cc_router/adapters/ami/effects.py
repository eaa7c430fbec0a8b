"""What the translators hand the node to do, in order: core events to submit, actions to
send (with what their reply means), callers to forget once the core has heard of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import Reply
from cc_router.adapters.ami.registry import CallerLeg
from cc_router.core import events as ev
from cc_router.store.queue_log import QueueLogRecord


@dataclass(slots=True)  # not frozen: a frozen init costs a setattr call per field, per action
class Send:
    """An action to send; `on_reply` says what its reply means."""

    action: act.Action
    on_reply: ReplyHandler | None = None


@dataclass(slots=True, eq=False)
class DropCaller:
    """Forget a caller that left, after the events before it are submitted: the commands
    the core answers them with (queue_log lines) still look the caller up."""

    caller: CallerLeg


@dataclass(slots=True, eq=False)
class LogLine:
    """queue_log lines, written with the service's next batch (`Supervisor.log_later`).
    What they say is taken when the command is translated (the caller may be gone by the
    batch); `build(*args)` makes the records there, once per batch and not on the routing
    path of the event (live_router --parts: building the records and their actions was
    most of what the AMI node's sink did for a call besides its Originate)."""

    build: Callable[..., QueueLogRecord | Sequence[QueueLogRecord] | None]
    args: tuple[Any, ...]

    def actions(self) -> list[act.Action]:
        made = self.build(*self.args)
        if made is None:
            return []
        records = (made,) if isinstance(made, QueueLogRecord) else made
        return [act.queue_log(rec.ami_fields()) for rec in records]


def given(rec: QueueLogRecord) -> QueueLogRecord:
    """`LogLine` builder of a record already made."""
    return rec


Effect = ev.Event | Send | DropCaller | LogLine
Effects = Sequence[Effect]
ReplyHandler = Callable[[Reply | None, BaseException | None, float], Effects]
"""(reply, or the exception in its place, now) -> more effects."""
NOTHING: Effects = ()


def hangup_unless_moved(channel: str, still_held: Callable[[], bool]) -> ReplyHandler:
    """Reply handler of a Redirect: a caller that cannot be moved is hung up rather than
    held forever (unless its channel is gone by then)."""

    def done(reply: Reply | None, exc: BaseException | None, now: float) -> Effects:
        if isinstance(reply, dict) and reply.get("Response") != "Success" and still_held():
            return (Send(act.hangup(channel)),)
        return NOTHING

    return done


def events_of(effects: Effects) -> list[ev.Event]:
    """The core events among `effects` (tests, replays)."""
    return [e for e in effects if not isinstance(e, Send | DropCaller | LogLine)]
