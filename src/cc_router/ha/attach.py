"""Wiring for surviving restarts: leadership, the writer's journal, durable sessions.

`attach` runs once from `wiring.build_service`. At start the service then, in order:
waits for leadership (HTTP already up, `/readyz` saying standby), migrates the store,
replays dead processes' journals, restores agent sessions into the core, and only then
starts the AMI and other routing components.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

import structlog
from sqlalchemy.engine import make_url

from cc_router.ha.leader import (
    Leadership,
    LeadershipLost,
    PgLeadership,
    SingleProcess,
    asyncpg_dsn,
    sqlite_lock_path,
)
from cc_router.ha.sessions import SessionRecorder, restore_events
from cc_router.service import Service
from cc_router.store import StoreWriter, migrate
from cc_router.store.journal import Journal, journal_dir_for
from cc_router.store.sessions import SessionStore

if TYPE_CHECKING:
    from cc_router.http import HttpComponent

log = structlog.get_logger("cc_router.ha")

T = TypeVar("T")
ENV_ADVERTISE = "CC_ROUTER_ADVERTISE_URL"


def advertised_address(service: Service, http: HttpComponent | None) -> str:
    """The leader's HTTP address as a standby names it (CC_ROUTER_ADVERTISE_URL, else this
    host and the port HTTP listens on)."""
    if env := os.environ.get(ENV_ADVERTISE):
        return env
    port = (http.bound_port if http is not None else None) or service.config.http.port
    host = service.config.http.host
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()
    return f"http://{host}:{port}"


@dataclass
class LeaderWatch:
    """This process's leadership as the rest of the service sees it (`service.parts.leadership`);
    as a component it runs while this process leads and sets `lost` (the CLI then steps
    down) when that can no longer be proved."""

    lead: Leadership
    name: str = "leadership"
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str = ""

    @property
    def role(self) -> str:
        return self.lead.role

    @property
    def leader_address(self) -> str:
        return self.lead.leader_address

    def may_send(self) -> bool:
        return self.lead.may_send()

    async def run(self) -> None:
        try:
            await self.lead.hold()
        except LeadershipLost as exc:
            self.reason = str(exc)
            self.lost.set()


@dataclass
class SessionComponent:
    store: SessionStore
    name: str = "sessions"

    async def run(self) -> None:
        try:
            await self.store.run()
        finally:
            await self.store.close()


def attach(service: Service, url: str, writer: StoreWriter, http: HttpComponent | None) -> LeaderWatch:
    backend = make_url(url).get_backend_name()
    lead: Leadership
    if backend == "postgresql":
        lead = PgLeadership(asyncpg_dsn(url), lambda: advertised_address(service, http))
    else:
        lead = SingleProcess(sqlite_lock_path(url))
    watch = LeaderWatch(lead)
    service.parts.leadership = watch
    service.components.append(watch)

    sessions = SessionStore(writer.engine)
    recorder = SessionRecorder(service.router, sessions)
    service.observers.append(recorder.observe)
    service.durability.append(sessions.stored)
    service.components.append(SessionComponent(sessions))

    async def start() -> None:
        if isinstance(lead, PgLeadership) and http is not None:
            # The address a standby names is the one HTTP really listens on.
            async with asyncio.timeout(30):
                await http.started.wait()
        await lead.acquire()
        t0 = time.monotonic()
        await _until_done("migrate", lambda: migrate(url))
        if isinstance(lead, PgLeadership):
            await _until_done("announce", lead.announce)
        if writer.journal is None:
            directory = journal_dir_for(url)
            replayed = await _until_done("journal", lambda: writer.replay(directory))
            # A full disk (the journal's blocks are reserved up front, off the loop) delays
            # routing with a reason in the log until there is room, as a store that is down does.
            writer.journal = await _until_done("journal", lambda: asyncio.to_thread(Journal, directory))
            if replayed:
                log.warning("journal_replayed", commands=replayed)
        agents, queues = await _until_done("sessions", sessions.load)
        recorder.seed(agents)
        service.submit_all(restore_events(service.router.centre, agents, queues), service.clock())
        log.info(
            "state_restored",
            agents=sum(1 for a in agents if a.presence != "logged_out"),
            queues=len(queues),
            seconds=round(time.monotonic() - t0, 3),
        )

    service.starting.append(start)
    service.stopping.append(lead.close)
    return watch


async def _until_done(what: str, call: Callable[[], Awaitable[T]]) -> T:
    """Retry a start-up step with backoff: a store that is down delays routing, it does not
    end the process."""
    backoff = 0.2
    while True:
        try:
            return await call()
        except Exception as exc:
            log.warning(
                "start_step_failed", step=what, error=f"{type(exc).__name__}: {exc}", retry_in_s=backoff
            )
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


__all__ = ["LeaderWatch", "advertised_address", "attach"]
