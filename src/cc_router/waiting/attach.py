"""Wiring of the waiting caller's parts (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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

log = structlog.get_logger("cc_router.callbacks")


@dataclass
class Waiting:
    announcer: Announcer
    dialers: dict[str, CallbackDialer]
    """By node name."""
    recorder: CallbackRecorder | None


def attach(service: Service, nodes: Sequence[AmiNode], engine: AsyncEngine | None) -> Waiting:
    """`engine` None: callbacks are not stored (a test without a store); callers are
    thanked at once and a restart forgets them."""
    dialers = {
        n.node: ami_callbacks.attach(n.ami_in, n.ami_out.hooks, durable=engine is not None) for n in nodes
    }

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
        by_node = {n.node: n for n in nodes}

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
    service.sinks.append(announcer.sink)
    service.components.append(announcer)
    return Waiting(announcer, dialers, recorder)
