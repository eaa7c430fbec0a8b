"""A node that cannot be reached: what the router says about it, and when.

- lost (connection gone, or a connect failed): `NodeDown`, so the node's agents are
  *unavailable* at once (no calls; not paused, not logged out);
- back (logged in and the state read again, snapshot.py): `NodeUp`, they are offered again;
- still lost after `asterisk[].drop_callers_after_s`: the callers it held are recorded
  `pbx_dropped` (no AMI, no bridge: they cannot be served), and so is every caller the
  snapshot finds gone when the node is back *restarted* (its CoreStatus startup time
  changed): the PBX lost them, not the queue. Back without a restart (only the router's
  link was down), a caller found gone hung up: abandoned, as before.
"""

from __future__ import annotations

from dataclasses import dataclass

from cc_router.adapters.ami.effects import DropCaller, Effect, Effects
from cc_router.adapters.ami.registry import CallerLeg, CallerStage, LegState, Registry
from cc_router.core import events as ev

_LIVE = frozenset({CallerStage.WAITING, CallerStage.CONNECTED})


@dataclass(slots=True)
class Outage:
    node: str
    lost: bool = False
    """Lost since the last time the node's state was read."""
    down_told: bool = False
    started: str = ""
    """Asterisk's startup time (CoreStatus) when last seen; "" = not known."""
    restarted: bool = False
    """Set while the snapshot after a reconnect runs, when Asterisk started again meanwhile."""

    def seen_started(self, started: str) -> None:
        """The startup time read on (re)connecting, before the snapshot."""
        self.restarted = bool(self.started and started and started != self.started)
        if started:
            self.started = started

    def node_lost(self) -> Effects:
        self.lost = True
        if self.down_told:
            return ()
        self.down_told = True
        return (ev.NodeDown(self.node),)

    def node_back(self) -> Effects:
        self.lost = False
        self.restarted = False
        if not self.down_told:
            return ()
        self.down_told = False
        return (ev.NodeUp(self.node),)


def caller_dropped(caller: CallerLeg) -> Effects:
    """The caller's channel went with its node: recorded as dropped by the PBX."""
    out: list[Effect] = []
    if caller.stage in _LIVE:
        leg = caller.agent_leg
        if leg is not None and caller.stage is CallerStage.CONNECTED:
            leg.state = LegState.DONE
        caller.stage = CallerStage.DONE
        out.append(ev.InteractionDropped(caller.iid))
    out.append(DropCaller(caller))
    return out


def drop_all(registry: Registry) -> Effects:
    """Every caller the node held, dropped (the node stayed unreachable too long)."""
    out: list[Effect] = []
    for caller in list(registry.callers.values()):
        out += caller_dropped(caller)
    return out
