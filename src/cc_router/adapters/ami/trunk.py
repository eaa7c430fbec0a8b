"""An agent on another node than the caller: the agent leg goes out over the trunk.

The router originates on the caller's node, exactly as for a local agent (ChannelId,
Timeout, Context ccr-agent, Exten connect), but the channel is a Local channel into
`ccr-trunk-out` that dials the agent's node through the trunk's PJSIP endpoint; the
agent's device (as its home node knows it) travels in a SIP header and is dialled there
by `ccr-trunk-in` (dialplans/ccr-trunk.conf). Ringing, no answer, busy, cancelling and
hanging up are therefore the same events on the caller's node as on one node.
"""

from __future__ import annotations

from dataclasses import dataclass

from cc_router.adapters.ami import actions as act
from cc_router.config import Config

TRUNK_OUT_CONTEXT = "ccr-trunk-out"
TRUNK_OUT_CHANNEL = f"Local/agent@{TRUNK_OUT_CONTEXT}/n"
"""/n: no Local optimisation, so the leg keeps the channel ids the router gave it."""


@dataclass(frozen=True, slots=True)
class RemoteLeg:
    channel: str
    device: str
    trunk_endpoint: str
    ring_s: int
    """The far node rings no longer than this, even if the caller's node dies and sends no CANCEL."""

    def variables(self) -> list[str]:
        return [
            f"CCR_DEVICE={_var(self.device)}",
            f"CCR_TRUNK={_var(self.trunk_endpoint)}",
            f"CCR_RING={self.ring_s}",
        ]


def _var(value: str) -> str:
    # Originate's Variable header splits on commas; a device is never a list either.
    return value.replace(",", "_").replace("&", "_")


RING_SLACK_S = 5


def remote_leg(
    config: Config, caller_node: str, agent_node: str, device: str, timeout_s: float
) -> RemoteLeg | None:
    """How to reach `device` on `agent_node` from `caller_node`; None without a trunk."""
    trunk = config.trunk_between(caller_node, agent_node)
    if trunk is None or not device:
        return None
    ring_s = int(timeout_s) + RING_SLACK_S
    return RemoteLeg(TRUNK_OUT_CHANNEL, device, trunk.endpoint_on(caller_node), ring_s)


def with_remote(action: act.Action, leg: RemoteLeg) -> act.Action:
    """An agent-leg Originate (actions.originate) sent over the trunk instead."""
    variables = action.get("Variable", [])
    listed = [variables] if isinstance(variables, str) else list(variables)
    return {**action, "Channel": leg.channel, "Variable": listed + leg.variables()}


REACHABLE, UNREACHABLE = "Reachable", "Unreachable"


def peer_of_aor(config: Config, node: str, aor: str) -> str | None:
    """The node that `aor` (a trunk endpoint's AOR, named like the endpoint) reaches from `node`."""
    for trunk in config.trunks:
        if node in trunk.nodes and trunk.endpoint_on(node) == aor:
            return trunk.nodes[1] if trunk.nodes[0] == node else trunk.nodes[0]
    return None
