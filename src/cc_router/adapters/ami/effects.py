"""What the translators hand the node to do, in order: core events to submit, actions to
send (with what their reply means), callers to forget once the core has heard of them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cc_router.adapters.ami import actions as act
from cc_router.adapters.ami.connection import Reply
from cc_router.adapters.ami.registry import CallerLeg
from cc_router.core import events as ev


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


Effect = ev.Event | Send | DropCaller
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
    return [e for e in effects if not isinstance(e, Send | DropCaller)]
