"""Run cc-router in-process against the Asterisk sandbox and drive it with SIPp callers.

Used by tests/e2e and meant for the end-to-end benchmark and demos:

- `sandbox_config(...)`: a Config for the sandbox (sim agents `Local/<id>@ccr-sim-agent`).
- `LiveService`: Service + store (SQLite file) + AMI node(s) + ticker in this event loop,
  with every command recorded (`commands`, `offers_to(agent)`...).
- `AmiAdmin`: a second AMI session for steering (DBPut ccrsim keys) and checking
  (CoreShowChannels) without going through the router.
- `SippCaller`: one SIPp caller (tests/sipp/caller.xml) with a UTF-8 display name.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from cc_router.adapters import ami
from cc_router.adapters.ami.connection import AmiConnection
from cc_router.adapters.ami.fleet import NodeFleet
from cc_router.adapters.ami.node import AmiNode
from cc_router.adapters.ami.protocol import Message
from cc_router.config import Config, environment, loads_config
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.sandbox import SandboxSettings
from cc_router.service import Service, supervise
from cc_router.store import StoreWriter
from cc_router.wiring import StoreComponent

SIPP_DIR = Path(__file__).resolve().parents[3] / "tests" / "sipp"


def sandbox_config(
    body: str,
    settings: SandboxSettings,
    *,
    store_url: str = "sqlite+aiosqlite:///:memory:",
    ping_interval_s: float = 1.0,
    ping_timeout_s: float = 1.0,
    reconnect_max_s: float = 2.0,
) -> Config:
    """`body` is YAML with skills/agents/queues/numbers/routing; the AMI node and store are added."""
    text = (
        body
        + f"""
asterisk:
  - name: sandbox
    host: 127.0.0.1
    port: {settings.ami_port}
    username: {settings.ami_user}
    secret: "{settings.ami_secret}"
    ping_interval_s: {ping_interval_s}
    ping_timeout_s: {ping_timeout_s}
    reconnect_max_s: {reconnect_max_s}
store:
  url: "{store_url}"
  flush_interval_s: 0.1
"""
    )
    return loads_config(text, env={})


async def wait_until(pred: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.02)


class LiveService:
    """The service's routing path, live: router, store, AMI, ticker (no HTTP/MQTT)."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.service = Service.from_config(config)
        self.writer = StoreWriter(
            config.store.url, batch_size=100, flush_interval_s=config.store.flush_interval_s
        )
        self.service.sinks.append(self.writer.submit)
        self.store = StoreComponent(self.writer, config.store.url)
        self.nodes: list[AmiNode] = [c for c in ami.build(self.service) if isinstance(c, AmiNode)]
        for n in self.nodes:
            # Other routers (tests, benchmarks) may share the sandbox: never hang up their callers.
            n.exit_unknown_numbers = False
        self.fleet = NodeFleet(self.service, self.nodes)
        self.commands: list[tuple[float, cmd.Command]] = []
        self.events: list[tuple[float, ev.Event]] = []
        self.service.sinks.append(lambda cs, now: self.commands.extend((now, c) for c in cs))
        self.service.listeners.append(lambda e, now: self.events.append((now, e)))
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def node(self) -> AmiNode:
        return self.nodes[0]

    async def start(self, timeout: float = 15.0) -> None:
        self._tasks.append(asyncio.create_task(supervise("store", self.store.run), name="store"))
        for n in self.nodes:
            self._tasks.append(asyncio.create_task(supervise(n.name, n.run), name=n.name))
        self._tasks.append(asyncio.create_task(self.service.tick_forever(0.2), name="ticker"))
        self._tasks.append(asyncio.create_task(supervise("fleet", self.fleet.run), name="fleet"))
        await wait_until(lambda: all(n.ready for n in self.nodes), timeout, "AMI ready")

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> LiveService:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def submit(self, event: ev.Event) -> list[cmd.Command]:
        return self.service.submit(event)

    def reload(self, config: Config) -> list[cmd.Command]:
        """What `POST /api/config/reload` does with a checked config: core, then every part."""
        out = self.submit(ev.CentreReplaced(config.to_centre()))
        self.service.apply_config(config)
        for n in self.fleet.nodes.values():
            n.exit_unknown_numbers = False
        return out

    @property
    def all_nodes(self) -> list[AmiNode]:
        """The nodes started with it and those a reload added."""
        return list(self.fleet.nodes.values())

    def login(self, *agents: str) -> None:
        for a in agents:
            self.submit(ev.AgentLoggedIn(a))

    def of(self, kind: type) -> list[Any]:
        return [c for _, c in self.commands if isinstance(c, kind)]

    def events_of(self, kind: type) -> list[Any]:
        return [e for _, e in self.events if isinstance(e, kind)]

    def offers(self) -> list[cmd.Offer]:
        return self.of(cmd.Offer)

    def iid_of_caller(self, caller_num: str) -> str | None:
        for _, e in self.events:
            if isinstance(e, ev.InteractionArrived) and e.attributes.get("caller_num") == caller_num:
                return e.interaction_id
        return None

    def finished(self, iid: str) -> cmd.InteractionFinished | None:
        for c in self.of(cmd.InteractionFinished):
            if c.interaction_id == iid:
                return c  # type: ignore[no-any-return]
        return None


@contextlib.asynccontextmanager
async def running(centre: str, settings: SandboxSettings, db: Path) -> AsyncIterator[LiveService]:
    """A `LiveService` on `centre` with its SQLite store at `db`: started, stopped after."""
    svc = LiveService(sandbox_config(centre, settings, store_url=f"sqlite+aiosqlite:///{db}"))
    await svc.start()
    try:
        yield svc
    finally:
        await svc.stop()


def free_udp_port() -> int:
    """A UDP port free on loopback now (SIPp's media port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AmiAdmin:
    """A separate AMI login for steering simulated agents and checking channels."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.conn: AmiConnection | None = None

    async def connect(self) -> AmiAdmin:
        s = self.settings
        self.conn = AmiConnection(
            "127.0.0.1",
            s.ami_port,
            s.ami_user,
            SecretStr(s.ami_secret),
            on_event=lambda n, f: None,
            name="admin",
        )
        await self.conn.connect()
        return self

    async def close(self) -> None:
        if self.conn is not None:
            self.conn.close()

    async def action(self, action: Mapping[str, str]) -> Any:
        assert self.conn is not None
        return await asyncio.wait_for(self.conn.send_action(action), 10)

    async def sim_agent(self, agent: str, *, ring: float = 1, talk: float = 5, answer: str = "1") -> None:
        for key, value in (("ring", ring), ("talk", talk), ("answer", answer)):
            await self.action(
                {
                    "Action": "DBPut",
                    "Family": "ccrsim",
                    "Key": f"{agent}/{key}",
                    "Val": f"{value:g}" if isinstance(value, float | int) else value,
                }
            )

    async def channels(self) -> list[Message]:
        reply = await self.action({"Action": "CoreShowChannels"})
        return (
            [m for m in reply if not m.get("Channel", "").startswith("Message/")]
            if isinstance(reply, list)
            else []
        )

    async def hangup_all(self, match: Callable[[Message], bool] = lambda m: True) -> None:
        for ch in await self.channels():
            if match(ch):
                await self.action({"Action": "Hangup", "Channel": ch["Channel"]})

    async def wait_no_channels(
        self, timeout: float = 10.0, match: Callable[[Message], bool] = lambda m: True
    ) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = [c for c in await self.channels() if match(c)]
            if not left:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"channels still up: {[c.get('Channel') for c in left]}")
            await asyncio.sleep(0.2)


_ports = itertools.count(environment.sipp_port_base(15200))


class SippCaller:
    """One SIPp call into ccr-inbound; hangs up by itself after `hold_ms` unless Asterisk does."""

    def __init__(
        self,
        settings: SandboxSettings,
        number: str,
        hold_ms: int,
        *,
        name: str = "张伟",
        num: str = "13800138000",
    ) -> None:
        self.settings, self.number, self.hold_ms, self.name, self.num = settings, number, hold_ms, name, num
        self.port = next(_ports)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> SippCaller:
        self.proc = await asyncio.create_subprocess_exec(
            "sipp", "-sf", str(SIPP_DIR / "caller.xml"), "-s", self.number,
            "-i", "127.0.0.1", "-p", str(self.port), "-m", "1", "-nostdin",
            "-recv_timeout", str(self.hold_ms), "-key", "cname", self.name, "-key", "cnum", self.num,
            self.settings.sip,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL, cwd="/tmp",
        )  # fmt: skip
        return self

    async def wait(self, timeout: float = 60.0) -> int | None:
        if self.proc is None:
            return None
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(self.proc.wait(), timeout)
        return None

    def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


async def call(settings: SandboxSettings, number: str, hold_ms: int, **kw: str) -> SippCaller:
    return await SippCaller(settings, number, hold_ms, **kw).start()


def kill_all(callers: Iterable[SippCaller]) -> None:
    for c in callers:
        c.kill()
