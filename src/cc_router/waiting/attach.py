"""Wiring of the waiting caller's parts (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from cc_router.adapters.ami import callbacks as ami_callbacks
from cc_router.adapters.ami.announcer import Announcer
from cc_router.adapters.ami.callbacks import CallbackDialer, CallbackTarget
from cc_router.adapters.ami.node import AmiNode
from cc_router.live import expected_wait
from cc_router.service import Service
from cc_router.store.callbacks import CallbackStore
from cc_router.waiting.recorder import CallbackRecorder, Customer

if TYPE_CHECKING:
    from cc_router.adapters.ami.fleet import NodeFleet

log = structlog.get_logger("cc_router.callbacks")


@dataclass
class Waiting:
    announcer: Announcer
    dialers: dict[str, CallbackDialer]
    """By node name."""
    recorder: CallbackRecorder | None


def attach(
    service: Service, nodes: Sequence[AmiNode], engine: AsyncEngine | None, fleet: NodeFleet | None = None
) -> Waiting:
    """`engine` None: callbacks are not stored (a test without a store); callers are
    thanked at once and a restart forgets them. Nodes `fleet` adds later (a reload) get
    their callback dialer and announcements too."""
    dialers = {
        n.node: ami_callbacks.attach(n.ami_in, n.ami_out.hooks, durable=engine is not None) for n in nodes
    }
    by_node = {n.node: n for n in nodes}

    def customer_of(iid: str) -> Customer | None:
        for node, d in dialers.items():
            t = d.targets.get(iid)
            if t is not None:
                return Customer(t.number, t.name, node)
        return None

    recorder: CallbackRecorder | None = None
    if engine is not None:
        recorder = CallbackRecorder(CallbackStore(engine), customer_of)
        service.sinks.append(recorder.sink)
        service.components.append(recorder)

        def thank(iid: str) -> None:
            for name, d in dialers.items():
                effects = d.stored(iid)
                if effects:
                    by_node[name].apply(effects)

        recorder.on_stored.append(thank)

        async def restore() -> None:
            assert recorder is not None
            now = service.clock()
            restored = await recorder.restore_events(now)
            for row, event in restored:
                dialer = dialers.get(row.node) or next(iter(dialers.values()), None)
                if dialer is not None:
                    dialer.add_target(
                        CallbackTarget(row.interaction_id, row.number, row.caller_name, row.queue)
                    )
                service.submit(event, now)
            if restored:
                log.info("callbacks_restored", callbacks=len(restored))

        service.starting.append(restore)

    announcer = Announcer(service, nodes, expected_wait.attach(service))
    service.observers.append(announcer.observe)
    service.components.append(announcer)
    if fleet is not None:

        def joined(node: AmiNode) -> None:
            dialers[node.node] = ami_callbacks.attach(
                node.ami_in, node.ami_out.hooks, durable=engine is not None
            )
            by_node[node.node] = node

        def left(node: AmiNode) -> None:
            if by_node.get(node.node) is node:
                del by_node[node.node]
                dialers.pop(node.node, None)

        fleet.joined.append(joined)
        fleet.left.append(left)
        fleet.follow(announcer.nodes)
    return Waiting(announcer, dialers, recorder)
