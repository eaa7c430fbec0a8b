"""A supervisor cancelled while it reaps the watch of a connection that just dropped ends;
it does not swallow its own cancellation, reconnect and run for ever (a hang once seen in a
test of the drift loop)."""

from __future__ import annotations

import asyncio

import pytest

from cc_router.adapters.ami.supervisor import Supervisor
from cc_router.config import loads_config
from tests.ami.fake_ami import FakeAmi

CONFIG = """
asterisk:
  - {{name: pbx1, host: 127.0.0.1, port: {port}, username: u, secret: s, event_filters: false}}
"""


class Owner:
    def __init__(self) -> None:
        self.supervisor: Supervisor | None = None
        self.reaping = asyncio.Event()
        self.ups = 0

    def on_unreachable(self, refused: bool) -> None:
        pass

    async def on_up(self) -> None:
        self.ups += 1

    async def while_up(self) -> None:
        # The connection drops while this runs; being cancelled, it takes a moment to end,
        # and the supervisor is cancelled in that moment.
        assert self.supervisor is not None and self.supervisor.conn is not None
        self.supervisor.conn.close("dropped by the test")
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.reaping.set()
            await asyncio.sleep(0.2)
            raise

    def on_lost(self) -> None:
        pass


@pytest.mark.asyncio
async def test_cancelled_while_reaping_the_watch_it_ends() -> None:
    fake = FakeAmi()
    await fake.start()
    try:
        config = loads_config(CONFIG.format(port=fake.port))
        owner = Owner()
        sup = Supervisor(config.asterisk[0], config.asterisk[0].secret, owner, lambda n, f: None, name="t")
        owner.supervisor = sup
        task = asyncio.create_task(sup.run())
        await asyncio.wait_for(owner.reaping.wait(), 10)
        task.cancel()
        done, _ = await asyncio.wait([task], timeout=5)
        assert task in done and task.cancelled()
        assert owner.ups == 1  # it did not reconnect
    finally:
        await fake.stop()
