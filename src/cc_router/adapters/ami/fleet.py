"""Growing without a restart: Asterisk nodes added to (or removed from) the config by a reload.

`NodeFleet` listens to the service's reloads (`Service.apply_config`):

- every node's device map is read again (agents added, moved or removed by the reload);
- a node new in `asterisk:` is built, made a command sink and run (supervised, as at start);
- a node gone from `asterisk:` is drained: its pools are gone from the new config, so
  nobody is offered its agents; the calls it still holds finish, then it stops.

Every other part that keeps per-node hooks or a list of nodes (omnichannel SMS and fax,
callbacks and announcements, recording and listening, desktop dispositions) registers
with `joined` / `left` (or `follow`s its list) when it is attached (wiring.py), so a node a
reload adds is theirs as it is the router's, and a drained one is let go.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableSequence
from typing import Any

import structlog
from pydantic import SecretStr

from cc_router.adapters.ami.node import AmiNode
from cc_router.config import Config, environment
from cc_router.config.models import AsteriskNode
from cc_router.core import events as ev
from cc_router.service import Service, handles, supervise

log = structlog.get_logger("cc_router.ami.fleet")

DRAIN_POLL_S = 1.0
NodeHook = Callable[[AmiNode], None]
_WATCHED = frozenset({ev.NodeDown, ev.NodeUp, ev.TrunkDown})


def node_secret(spec: AsteriskNode) -> SecretStr | None:
    env_secret = environment.ami_secret()
    return spec.secret or (SecretStr(env_secret) if env_secret else None)


class NodeFleet:
    name = "ami-fleet"

    def __init__(self, service: Service, nodes: list[AmiNode]) -> None:
        self.service = service
        self.nodes: dict[str, AmiNode] = {n.node: n for n in nodes}
        self._changes: asyncio.Queue[tuple[str, AmiNode]] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.lost: set[str] = set()
        """Nodes whose AMI link is down (NodeDown until NodeUp)."""
        self.joined: list[NodeHook] = []
        """Told of each node a reload adds, before it connects."""
        self.left: list[NodeHook] = []
        """Told of each node a reload removed, once its calls are over and it is stopped."""
        service.reloaded.append(self.on_reload)
        service.listeners.append(self.on_event)

    @handles(*_WATCHED)
    def on_event(self, event: ev.Event, _now: float) -> None:
        """A far node that died ends the calls connected to it over trunks at once. Dead
        is both: the router's link to it lost (NodeDown) *and* the trunk to it silent
        (TrunkDown, its qualify unanswered), in either order. Either alone is not enough:
        a link the router lost leaves the calls between the nodes up, and one qualify
        unanswered under load must not cut calls whose far node is well."""
        if type(event) not in _WATCHED:
            return  # every event of every call passes here: one set lookup for the rest
        if isinstance(event, ev.NodeDown):
            self.lost.add(event.node)
            self.check_trunks_to(event.node)
            for node in self.nodes.values():
                if event.node in node.ami_in.trunks_down:
                    self._end_calls(node, event.node)
        elif isinstance(event, ev.NodeUp):
            self.lost.discard(event.node)
        elif isinstance(event, ev.TrunkDown) and event.other in self.lost:
            observer = self.nodes.get(event.node)
            if observer is not None:
                self._end_calls(observer, event.other)

    def _end_calls(self, node: AmiNode, dead: str) -> None:
        # After this event's pass: a listener must not submit into the router.
        asyncio.get_running_loop().call_soon(lambda: node.apply(node.ami_in.calls_over_trunk_lost(dead)))

    def check_trunks_to(self, lost: str) -> None:
        """The router lost its link to `lost`: every other node qualifies its trunk there
        now rather than at its next scheduled qualify. A node that died takes the calls
        over its trunk with it (ended at once, events_in.calls_over_trunk_lost); one the
        router merely cannot reach answers, and its calls go on."""
        config = self.service.config
        for name, node in self.nodes.items():
            trunk = config.trunk_between(name, lost) if name != lost else None
            if trunk is not None and node.ready:
                node.enqueue({"Action": "PJSIPQualify", "Endpoint": trunk.endpoint_on(name)})

    @property
    def current(self) -> list[AmiNode]:
        """The nodes now: at start, the ones configured then (wiring hands these to the parts)."""
        return list(self.nodes.values())

    def follow(self, nodes: MutableSequence[Any]) -> None:
        """Keep a part's own list of nodes in step: added nodes appended, drained ones removed."""
        self.joined.append(nodes.append)

        def remove(node: AmiNode) -> None:
            if node in nodes:
                nodes.remove(node)

        self.left.append(remove)

    def _tell(self, hooks: list[NodeHook], node: AmiNode) -> None:
        for hook in hooks:
            try:
                hook(node)
            except Exception:
                log.exception("ami_fleet_hook_failed", node=node.node, hook=getattr(hook, "__qualname__", ""))

    def on_reload(self, config: Config) -> None:
        wanted = {spec.name: spec for spec in config.asterisk}
        several = len(wanted) > 1
        for name, spec in wanted.items():
            if name in self.nodes:
                continue
            node = AmiNode(self.service, spec, multi_node=several, secret=node_secret(spec))
            node.attach()
            self.service.parts.nodes.append(node)
            self.nodes[name] = node
            self._tell(self.joined, node)
            self._changes.put_nowait(("add", node))
            log.info("ami_node_added", node=name, host=spec.host, port=spec.port)
        for name in [n for n in self.nodes if n not in wanted]:
            self._changes.put_nowait(("drain", self.nodes.pop(name)))
            log.info("ami_node_draining", node=name)
        for node in self.nodes.values():
            # Callers of every node are placed by node from now on (core/topology.py).
            node.ami_in.tag_node = node.ami_in.tag_node or several
            node.index_agents()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            while True:
                what, node = await self._changes.get()
                if what == "add":
                    self._tasks[node.node] = tg.create_task(supervise(node.name, node.run), name=node.name)
                else:
                    tg.create_task(self._drain(node), name=f"drain-{node.node}")

    async def _drain(self, node: AmiNode) -> None:
        while node.registry.callers or node.registry.legs:
            await asyncio.sleep(DRAIN_POLL_S)
        # Its last queue_log lines go out first; then its run ends (started here or at
        # start, by the service): disconnected for good.
        node.detach()
        node.stop()
        self._tasks.pop(node.node, None)
        if node in self.service.parts.nodes:
            self.service.parts.nodes.remove(node)
        self._tell(self.left, node)
        log.info("ami_node_removed", node=node.node)
