"""Demo traffic for `make run`: SIP callers from SIPp and simulated agents in the sandbox.

Callers dial the numbers of the config through the sandbox's SIP trunk and wait on hold;
agents are `Local/<id>@ccr-sim-agent` channels whose ring time, talk time and whether they
answer at all come from AstDB (defaults for all, and a sample of agents with their own),
so some of them miss rings now and then.

The arrival rate follows a working day compressed into `day_s` seconds (from 09:30, so
the morning peak comes about 25 s in, then lunch, the afternoon peak, the evening): at
the peaks more calls arrive than the agents logged in can take, so queues build within
the first minute, callers give up, and they drain again afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
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
DAY_PROFILE = (
    (9.5, 1.5), (10.0, 2.6), (11.0, 2.0), (12.0, 0.6), (13.0, 0.7), (14.0, 1.6), (15.0, 2.2),
    (16.0, 1.2), (17.0, 0.7), (18.0, 0.4), (19.0, 0.2), (21.0, 0.2),
)  # fmt: skip
"""(hour, share of the base arrival rate): a contact centre's two peaks and quiet evening.
The day opens on the morning's rise: a newcomer should see queues within a minute."""
OWN_BEHAVIOUR = 60
"""Agents given a ring time, talk time and answer rate of their own; the rest use the
defaults, so a 20,000-agent config does not wait for 60,000 AstDB keys."""


def day_share(elapsed_s: float, day_s: float) -> float:
    """The profile's share at `elapsed_s` into the compressed day (repeating), interpolated."""
    hour = DAY_PROFILE[0][0] + (elapsed_s % day_s) / day_s * (DAY_PROFILE[-1][0] - DAY_PROFILE[0][0])
    for (h0, s0), (h1, s1) in itertools.pairwise(DAY_PROFILE):
        if h0 <= hour <= h1:
            return s0 + (s1 - s0) * (hour - h0) / (h1 - h0)
    return DAY_PROFILE[-1][1]


@dataclass
class DemoTraffic:
    """Places calls on every voice number of the config and keeps agents moving."""

    service: Service
    config: Config
    settings: SandboxSettings
    calls_per_minute: float = 20.0
    """The base rate over all voice numbers; the morning peak is 2.6 times that."""
    max_hold_s: int = 90
    day_s: float = 600.0
    staffed: float = 0.3
    """Share of the agents logged in at start: few enough that the peaks outrun them
    (example config: 24 of 79 agents, while its morning peak offers about 36 Erlangs:
    52 calls a minute of 42 s each)."""
    seed: int = 7
    name: str = "demo"
    _procs: list[asyncio.subprocess.Process] = field(default_factory=list)

    def voice_numbers(self) -> list[str]:
        voice = {q.name for q in self.config.queues if q.channel == "voice"}
        return [n for n, route in self.config.numbers.items() if route.queue in voice]

    def set_agent_behaviour(self, rng: random.Random) -> None:
        # One call to the CLI per key (a few dozen a second): defaults for everyone, then a
        # sample of agents who ring longer, talk longer or miss calls.
        lines = [
            "database deltree ccrsim",
            "database put ccrsim default/ring 2",
            "database put ccrsim default/talk 40",
            "database put ccrsim default/answer 1",
        ]
        sims = [a for a in self.service.router.agents.values() if a.spec.endpoint.endswith("@ccr-sim-agent")]
        for agent in rng.sample(sims, min(OWN_BEHAVIOUR, len(sims))):
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
        started = asyncio.get_running_loop().time()
        while True:
            # Each SIPp caller needs its own local port; 100 per number outlasts any hold.
            port = base_port + calls % 100
            calls += 1
            share = day_share(asyncio.get_running_loop().time() - started, self.day_s)
            await asyncio.sleep(rng.expovariate(max(share, 0.05) / interval))
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
        await asyncio.to_thread(self.set_agent_behaviour, rng)
        agents = list(self.service.router.agents)
        for aid in rng.sample(agents, max(1, round(len(agents) * self.staffed))) if agents else ():
            self.service.submit(ev.AgentLoggedIn(aid))
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
