"""Asterisk queue_log records from core commands, for QueueMetrics-style tools.

Line format: `time|callid|queuename|agent|event|data1|data2|...`, with the event data
fields in Asterisk app_queue's order:

    ENTERQUEUE      url|callerid|position
    RINGNOANSWER    ringtime (milliseconds)
    CONNECT         holdtime|bridged channel uniqueid|ringtime
    COMPLETECALLER  holdtime|calltime|origposition       (caller hung up)
    COMPLETEAGENT   holdtime|calltime|origposition       (agent hung up)
    TRANSFER        extension|context|holdtime|calltime|origposition
    ABANDON         position|origposition|waittime
    EXITWITHTIMEOUT position|origposition|waittime
    EXITEMPTY       position|origposition|waittime
    EXITWITHKEY     key|position|origposition|waittime
    JOINEMPTY, FULL (no data: refused at entry)
    ADDMEMBER, REMOVEMEMBER (no data; callid MANAGER as when done over AMI)
    PAUSE, UNPAUSE  reason

Times in data fields are whole seconds, as Asterisk writes them. The core does not track
queue positions, so position fields are 1 unless the caller of these functions knows
better. The callid is the interaction id: the adapter uses the caller channel's uniqueid.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cc_router.core.commands import (
    AgentStateChanged,
    InteractionConnected,
    InteractionFinished,
    InteractionQueued,
)
from cc_router.core.events import OfferDeclined
from cc_router.core.vocabulary import (
    ABANDONED_OUTCOMES,
    CALLER_HANGUP,
    ENTRY_REASONS,
    AgentState,
    ExitReason,
    Outcome,
)

NONE = "NONE"
CALLER_ENDED = frozenset({CALLER_HANGUP, "caller"})
"""Dispositions meaning the caller ended a connected interaction (COMPLETECALLER)."""
SENT_AWAY = frozenset(
    {ExitReason.MAX_WAIT, Outcome.TIMED_OUT, ExitReason.OVERFLOW_LOOP, ExitReason.QUEUE_REMOVED}
)
"""Visits the system ended by sending the caller away (EXITWITHTIMEOUT)."""


@dataclass(frozen=True, slots=True)
class QueueLogRecord:
    time: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...] = ()

    def line(self) -> str:
        return "|".join((str(self.time), self.callid, self.queue, self.agent, self.event, *self.data))

    def ami_fields(self) -> dict[str, str]:
        """Headers for the AMI `QueueLog` action; Asterisk stamps the time itself."""
        return {
            "Queue": self.queue,
            "Event": self.event,
            "Uniqueid": self.callid,
            "Interface": self.agent,
            "Message": "|".join(self.data),
        }


def _s(seconds: float) -> str:
    return str(max(0, round(seconds)))


def enter_queue(
    c: InteractionQueued, caller: str = "", url: str = "", position: int = 1
) -> QueueLogRecord | None:
    """ENTERQUEUE for an interaction that arrived (or re-entered after a transfer or
    overflow, which Asterisk also logs as a new entry); None for returns and escalations,
    which stay in the same queue visit."""
    if c.reason not in ENTRY_REASONS:
        return None
    return QueueLogRecord(
        int(c.at), c.interaction_id, c.queue, NONE, "ENTERQUEUE", (url, caller, str(position))
    )


def ring_no_answer(interaction_id: str, queue: str, agent: str, at: float, ring_s: float) -> QueueLogRecord:
    return QueueLogRecord(
        int(at), interaction_id, queue, agent, "RINGNOANSWER", (str(max(0, round(ring_s * 1000))),)
    )


def offer_declined(e: OfferDeclined, queue: str, at: float, ring_s: float) -> QueueLogRecord:
    """RINGNOANSWER for a declined or timed-out offer (the core does not say which queue
    or when; the adapter that saw the offer does)."""
    return ring_no_answer(e.interaction_id, queue, e.agent_id, at, ring_s)


def connect(c: InteractionConnected, ring_s: float = 0.0, bridged_uniqueid: str = "") -> QueueLogRecord:
    return QueueLogRecord(
        int(c.at),
        c.interaction_id,
        c.queue,
        c.agent_id,
        "CONNECT",
        (_s(c.wait_s), bridged_uniqueid, _s(ring_s)),
    )


def finished(
    c: InteractionFinished,
    position: int = 1,
    orig_position: int = 1,
    transfer_extension: str = "",
    transfer_context: str = "",
) -> QueueLogRecord | None:
    """The record that closes a queue visit, or None when Asterisk has no matching event
    (a supervisor's move)."""
    t = int(c.ended_at)
    iid, q = c.interaction_id, c.queue
    wait = _s(c.wait_s)
    pos = (str(position), str(orig_position), wait)
    if c.outcome == Outcome.ANSWERED and c.agent_id is not None:
        event = "COMPLETECALLER" if c.disposition in CALLER_ENDED else "COMPLETEAGENT"
        return QueueLogRecord(t, iid, q, c.agent_id, event, (wait, _s(c.talk_s), str(orig_position)))
    if c.outcome == Outcome.TRANSFERRED and c.agent_id is not None:
        data = (transfer_extension, transfer_context, wait, _s(c.talk_s), str(orig_position))
        return QueueLogRecord(t, iid, q, c.agent_id, "TRANSFER", data)
    if c.outcome in ABANDONED_OUTCOMES:
        return QueueLogRecord(t, iid, q, NONE, "ABANDON", pos)
    # An overflow carries why it left in `disposition` (max_wait, max_length, empty).
    why = c.disposition if c.outcome == Outcome.OVERFLOWED else c.outcome
    refused_at_entry = c.ended_at <= c.enqueued_at
    if why == ExitReason.MAX_LENGTH:
        return QueueLogRecord(t, iid, q, NONE, "FULL")
    if why == ExitReason.EMPTY:
        if refused_at_entry:
            return QueueLogRecord(t, iid, q, NONE, "JOINEMPTY")
        return QueueLogRecord(t, iid, q, NONE, "EXITEMPTY", pos)
    if why in SENT_AWAY:
        # Asterisk has no event for a loop or a deleted queue; both are the system
        # sending a waiting caller away, which QueueMetrics reads as a timeout.
        return QueueLogRecord(t, iid, q, NONE, "EXITWITHTIMEOUT", pos)
    return None


def exit_with_key(
    interaction_id: str,
    queue: str,
    at: float,
    key: str,
    wait_s: float,
    position: int = 1,
    orig_position: int = 1,
) -> QueueLogRecord:
    """The caller pressed a key to leave (the core has no such outcome; for IVR adapters)."""
    data = (key, str(position), str(orig_position), _s(wait_s))
    return QueueLogRecord(int(at), interaction_id, queue, NONE, "EXITWITHKEY", data)


def agent_state(c: AgentStateChanged, queues: Sequence[str] = (NONE,)) -> list[QueueLogRecord]:
    """ADDMEMBER/REMOVEMEMBER for login/logout, PAUSE/UNPAUSE for pauses, once per queue
    the agent serves (NONE when unknown, as Asterisk writes for PAUSEALL)."""
    t = int(c.at)
    a = c.agent_id
    out: list[QueueLogRecord] = []
    for q in queues:
        if c.previous == AgentState.LOGGED_OUT and c.state != AgentState.LOGGED_OUT:
            out.append(QueueLogRecord(t, "MANAGER", q, a, "ADDMEMBER", ("",)))
        if c.previous == AgentState.PAUSED and c.state != AgentState.PAUSED:
            out.append(QueueLogRecord(t, NONE, q, a, "UNPAUSE", ("",)))
        if c.state == AgentState.PAUSED:  # paused -> paused means a new reason
            out.append(QueueLogRecord(t, NONE, q, a, "PAUSE", (c.reason,)))
        if c.state == AgentState.LOGGED_OUT and c.previous != AgentState.LOGGED_OUT:
            out.append(QueueLogRecord(t, "MANAGER", q, a, "REMOVEMEMBER", ("",)))
    return out


__all__ = [
    "QueueLogRecord",
    "agent_state",
    "connect",
    "enter_queue",
    "exit_with_key",
    "finished",
    "offer_declined",
    "ring_no_answer",
]
