"""AMI actions the adapter sends, built from core commands (pure functions).

The dialplan side of each action is specified in dialplans/README.md.
"""

from __future__ import annotations

import re

from cc_router.core.spec import ExitKind, ExitTarget
from cc_router.core.vocabulary import DeclineReason

Action = dict[str, str | list[str]]

EXIT_CONTEXT = "ccr-exit"
AGENT_CONTEXT = "ccr-agent"
HOLD_CONTEXT = "ccr-inbound"
LEG_ID_PREFIX = "ccr-"
"""How every agent leg's channel ids begin (`Registry.next_leg_id`: `ccr-<token>-<n>`)."""
HOLDING_BRIDGE = "holding_bridge"
"""BridgeTechnology of the bridge a caller waits in (BridgeWait in ccr-inbound)."""

ORIGINATE_REASONS = {3: DeclineReason.NO_ANSWER, 5: DeclineReason.BUSY}
"""OriginateResponse Reason -> OfferDeclined reason; anything else is `failed`."""

_UNSAFE_CID = re.compile(r'["<>\\\r\n]')


def decline_reason(reason: str) -> DeclineReason:
    try:
        return ORIGINATE_REASONS.get(int(reason), DeclineReason.FAILED)
    except ValueError:
        return DeclineReason.FAILED


def caller_id(name: str, num: str) -> str:
    """`"name" <num>`; quotes and brackets would break Asterisk's caller id parsing."""
    name = _UNSAFE_CID.sub("", name).strip()
    num = _UNSAFE_CID.sub("", num).strip()
    return f'"{name}" <{num}>' if name else f"<{num}>"


def _var(value: str) -> str:
    # Originate's Variable header splits on commas.
    return value.replace(",", "_")


def originate(
    *,
    action_id: str,
    endpoint: str,
    timeout_s: float,
    channel_id: str,
    other_channel_id: str,
    caller_uniqueid: str,
    interaction_id: str,
    agent_id: str,
    caller_name: str,
    caller_num: str,
    offer_id: str = "",
) -> Action:
    """The agent leg of an offer; the interaction, agent and offer ride on it as channel
    variables, so a router started later can adopt the call instead of queueing it again."""
    return {
        "Action": "Originate",
        "ActionID": action_id,
        "Channel": endpoint,
        "Context": AGENT_CONTEXT,
        "Exten": "connect",
        "Priority": "1",
        "Timeout": str(max(1000, int(timeout_s * 1000))),
        "Async": "true",
        "ChannelId": channel_id,
        "OtherChannelId": other_channel_id,
        "CallerID": caller_id(caller_name, caller_num),
        "Variable": [
            f"CCR_CALLER={_var(caller_uniqueid)}",
            f"CCR_IID={_var(interaction_id)}",
            f"CCR_AGENT={_var(agent_id)}",
            f"CCR_OFFER={_var(offer_id)}",
        ],
    }


def hangup(channel: str, cause: int = 16) -> Action:
    return {"Action": "Hangup", "Channel": channel, "Cause": str(cause)}


def exit_extension(target: ExitTarget | None) -> str:
    """ccr-exit extension for an exit; None (no exit configured) and queue targets that
    reached the adapter (overflow loop) hang up."""
    if target is None:
        return "hangup"
    if target.kind is ExitKind.VOICEMAIL:
        return f"voicemail-{target.value}"
    if target.kind is ExitKind.CALLBACK:
        return "callback"
    return "hangup"


def redirect(channel: str, exten: str) -> Action:
    return {
        "Action": "Redirect",
        "Channel": channel,
        "Context": EXIT_CONTEXT,
        "Exten": exten,
        "Priority": "1",
    }


def getvar(channel: str, variable: str) -> Action:
    return {"Action": "Getvar", "Channel": channel, "Variable": variable}


HELD_MARK, HOLD_TIME = "CCR_HELD", "CCR_HOLD_S"
"""Set on a connected caller by the router while its agent holds it (since when) and when
a hold ends (the hold time so far): a router started again continues the call's hold time."""


def setvar(channel: str, variable: str, value: str) -> Action:
    return {"Action": "Setvar", "Channel": channel, "Variable": variable, "Value": value}


QUEUE_LOG = "QueueLog"


def queue_log(fields: dict[str, str]) -> Action:
    return {"Action": QUEUE_LOG, **fields}


def is_queue_log(action: Action) -> bool:
    """A queue_log line: never urgent (the supervisor sends them in batches)."""
    return action.get("Action") == QUEUE_LOG


def session_filter(criteria: str, expression: str = "") -> Action:
    """AMI Filter for this session only (advanced syntax, e.g. `action(include),name(Hangup)`)."""
    return {"Action": "Filter", "Operation": "Add", "MatchCriteria": criteria, "Filter": expression}
