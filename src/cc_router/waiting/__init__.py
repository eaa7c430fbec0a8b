"""The waiting caller: announcements on hold and callbacks that keep the caller's place.

`attach(service, nodes, engine)` (called from `wiring.build`) puts the parts together:
one `CallbackDialer` per AMI node (adapters/ami/callbacks.py), the `Announcer`
(adapters/ami/announcer.py), the `CallbackRecorder` (SQL) and the start-up step that
puts stored callbacks back in their queues.
"""

from cc_router.waiting.attach import Waiting, attach

__all__ = ["Waiting", "attach"]
