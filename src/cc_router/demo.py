"""Demo traffic for `make run`: SIP callers from SIPp and simulated agents in the sandbox.

Callers dial the numbers of the config through the sandbox's SIP trunk and wait on hold;
agents are `Local/<id>@ccr-sim-agent` channels whose ring time, talk time and whether they
answer at all are set per agent in AstDB, so some of them miss rings now and then.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from cc_router.config import Config
from cc_router.core import events as ev
from cc_router.core.vocabulary import Presence
from cc_router.sandbox.provision import SandboxSettings, cli
from cc_router.service import Service

log = structlog.get_logger("cc_router.demo")

CALLER_SCENARIO = Path(__file__).resolve().parents[2] / "tests" / "sipp" / "caller.xml"
CALLER_NAMES = ("张伟", "王芳", "李娜", "刘洋", "陈静", "Li Lei", "杨磊", "赵军", "黄秀英", "周杰")


@dataclass
class DemoTraffic:
    """Places calls on every voice number of the config and keeps agents moving."""

    service: Service
    config: Config
    settings: SandboxSettings
    calls_per_minute: float = 20.0
    max_hold_s: int = 90
    seed: int = 7
    name: str = "demo"
    _procs: list[asyncio.subprocess.Process] = field(default_factory=list)

    def voice_numbers(self) -> list[str]:
        voice = {q.name for q in self.config.queues if q.channel == "voice"}
        return [n for n, route in self.config.numbers.items() if route.queue in voice]

    def _agents_behave(self, rng: random.Random) -> None:
        # One call to the CLI per key; a few dozen agents take about a second.
        lines = ["database deltree ccrsim"]
        for agent in self.service.router.agents.values():
            if not agent.spec.endpoint.endswith("@ccr-sim-agent"):
                continue
            aid = agent.id
            lines.append(f"database put ccrsim {aid}/ring {rng.choice((1, 2, 3, 4))}")
            lines.append(f"database put ccrsim {aid}/talk {rng.randint(15, 60)}")
            lines.append(f"database put ccrsim {aid}/answer {0 if rng.random() < 0.08 else 1}")
        for line in lines:
            cli(self.settings, line)

    async def _caller_loop(self, number: str, rng: random.Random, sipp: str, base_port: int) -> None:
        numbers = len(self.voice_numbers()) or 1
        interval = 60.0 * numbers / self.calls_per_minute
        calls = 0
        while True:
            # Each SIPp caller needs its own local port; 100 per number outlasts any hold.
            port = base_port + calls % 100
            calls += 1
            await asyncio.sleep(rng.expovariate(1.0 / interval))
            name = rng.choice(CALLER_NAMES)
            cnum = f"138{rng.randint(0, 99_999_999):08d}"
            hold_ms = rng.randint(20, self.max_hold_s) * 1000
            proc = await asyncio.create_subprocess_exec(
                sipp,
                "-sf",
                str(CALLER_SCENARIO),
                "-s",
                number,
                "-i",
                "127.0.0.1",
                "-p",
                str(port),
                "-m",
                "1",
                "-recv_timeout",
                str(hold_ms),
                "-key",
                "cname",
                name,
                "-key",
                "cnum",
                cnum,
                "-nostdin",
                self.settings.sip,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            self._procs.append(proc)
            self._procs = [p for p in self._procs if p.returncode is None]

    async def _agent_moods(self, rng: random.Random) -> None:
        """Agents take breaks now and then, so the wallboard shows paused with reasons."""
        while True:
            await asyncio.sleep(rng.uniform(5, 15))
            agents = [a for a in self.service.router.agents.values() if a.presence is not Presence.LOGGED_OUT]
            if not agents:
                continue
            a = rng.choice(agents)
            if a.presence is Presence.PAUSED:
                self.service.submit(ev.AgentUnpaused(a.id))
            else:
                reason = rng.choice(("break", "lunch", "training", "toilet"))
                self.service.submit(ev.AgentPaused(a.id, reason, max_s=rng.uniform(20, 60)))

    async def run(self) -> None:
        rng = random.Random(self.seed)
        sipp = shutil.which("sipp")
        if sipp is None:
            raise RuntimeError("sipp is not installed (Debian package sip-tester)")
        await asyncio.to_thread(self._agents_behave, rng)
        for agent in self.service.router.agents.values():
            self.service.submit(ev.AgentLoggedIn(agent.id))
        numbers = self.voice_numbers()
        log.info("demo_started", numbers=numbers, calls_per_minute=self.calls_per_minute)
        try:
            async with asyncio.TaskGroup() as tg:
                for n, number in enumerate(numbers):
                    tg.create_task(
                        self._caller_loop(number, random.Random(rng.random()), sipp, 16100 + 100 * n)
                    )
                tg.create_task(self._agent_moods(random.Random(rng.random())))
        finally:
            for proc in self._procs:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()


DEMO_USER = "demo"
DEMO_PASSWORD = "demo-agent-1"
"""A published password: the demo's login exists for trying the desktop on a loopback demo."""


async def ensure_demo_login(store_url: str, agent_id: str) -> None:
    """The demo agent's account (created, or its password reset), before the service starts."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from cc_router.accounts import users
    from cc_router.store import migrate

    engine = create_async_engine(store_url)
    try:
        await migrate(engine)
        if DEMO_USER in await users.load_users(engine):
            await users.set_password(engine, DEMO_USER, DEMO_PASSWORD)
            await users.set_disabled(engine, DEMO_USER, False)
        else:
            await users.add_user(engine, DEMO_USER, "agent", DEMO_PASSWORD, agent_id=agent_id)
    finally:
        await engine.dispose()
