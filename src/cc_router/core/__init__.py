"""The pure routing core: events in, commands out, time passed in.

Nothing in this package does IO, reads a clock or logs; adapters feed it events
with the current time and carry out the commands it returns.
"""

from cc_router.core.router import Router

__all__ = ["Router"]
