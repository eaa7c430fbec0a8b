"""A node that cannot be reached: what the router says about it, and when.

- lost (connection gone, or a connect failed): `NodeDown`, so the node's agents are
  *unavailable* at once (no calls; not paused, not logged out);
- back (logged in and the state read again, snapshot.py): `NodeUp`, they are offered again;
- still lost after `asterisk[].drop_callers_after_s` *and known dead* (a reconnect was
  refused: nothing listens on its AMI port, so the Asterisk that held the calls is gone,
  or it announced its shutdown): the callers it held are recorded `pbx_dropped`, at once
  or as soon as it is known dead. Only lost (connects time out, the host does not answer):
  nothing is recorded, as Asterisk may well still hold them (a router-side network fault);
  they keep their place (the core offers them nothing while the node is down) and the
  snapshot decides once the node answers: there = they go on waiting or talking, gone
  with the node *restarted* (its CoreStatus startup time changed) = `pbx_dropped`, gone
  without a restart = they hung up (abandoned). So each caller is recorded once: a
  caller recorded dropped is never admitted again (`dropped`) should it be found on hold.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    dead: bool = False
    """Known gone since it was lost: a reconnect was refused, or it announced its shutdown."""
    overdue: bool = False
    """Lost for longer than `drop_callers_after_s`: its callers are dropped once it is dead."""
    dropped: set[str] = field(default_factory=set)
    """Uniqueids of the callers recorded `pbx_dropped` in this outage."""

    def seen_started(self, started: str) -> None:
        """The startup time read on (re)connecting, before the snapshot."""
        self.restarted = bool(self.started and started and started != self.started)
        if started:
            self.started = started

    def node_lost(self, *, refused: bool = False) -> Effects:
        self.lost = True
        self.dead = self.dead or refused
        if self.down_told:
            return ()
        self.down_told = True
        return (ev.NodeDown(self.node),)

    def node_back(self) -> Effects:
        self.lost = self.dead = self.overdue = False
        self.restarted = False
        self.dropped.clear()
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


def drop_all(registry: Registry, outage: Outage) -> Effects:
    """Every caller the node held, dropped (the node stayed unreachable too long, dead)."""
    out: list[Effect] = []
    for caller in list(registry.callers.values()):
        if caller.stage in _LIVE:
            outage.dropped.add(caller.uniqueid)
        out += caller_dropped(caller)
    return out
