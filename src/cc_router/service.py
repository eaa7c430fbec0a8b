"""The running service: one router, the adapters around it, supervised in one task group.

Every event reaches the router through `Service.submit`, on the event loop's thread, so
the core needs no locks. Command sinks are synchronous and must not block: anything slow
(SQL, MQTT, AMI actions) is queued by the sink and done by its own task.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import structlog

from cc_router import collector
from cc_router.config import Config
from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev

if TYPE_CHECKING:
    from cc_router.accounts.book import AccountBook
    from cc_router.console.audit import AuditLog
    from cc_router.core.estimate import Estimator
    from cc_router.live import LiveView

log = structlog.get_logger("cc_router.service")

TICK_GRAIN_S = 0.05
"""The ticker fires the core's timers on a 50 ms grid of the clock, up to that much late:
timers due in the same slot share one wake-up of the event loop. Each call sets several
timers (offer, wrap-up, waiting steps) and most fall due stale (the offer was answered),
yet each woke the loop on its own, at the cost of a whole wake-up (live bench, wakeups.py).
The core fires each timer as of its own due time, so only when its commands go out moves."""


def tick_at(due: float) -> float:
    """The grid point at or after `due`."""
    return max(due, math.ceil(due / TICK_GRAIN_S) * TICK_GRAIN_S)


OBSERVE_GRAIN_S = 0.25
"""Observers (parts that only watch the routing: live view, metrics, expected waits,
announcements, the decision log, queue_log lines) are told what was handled in batches, on
a 250 ms grid of the clock (every fifth tick slot, so a flush shares the ticker's wake-up).
Told one event at a time they ran at every wake-up of the event loop from cold CPU caches,
and cost more than the routing itself (`python -m cc_router.bench.cache_cost`); a batch runs
each observer's code once, warm, for every event in it, and each batch starts cold: at 30
calls/s a 100 ms grid cost 1.4 ms a batch, 0.5 ms per call (live_router --parts). 250 ms is
what the wallboard shows anyway (`LiveView.max_updates_per_s`, 4) and the longest a
queue_log line waited before (`LOG_LINES_MAX_DELAY_S`). Nothing on the routing path waits
for them."""

CommandSink = Callable[[Sequence[cmd.Command], float], None]
EventListener = Callable[[ev.Event, float], None]
Handled = tuple[ev.Event, list[cmd.Command], float, float]
"""One event as observers see it: the event, the commands the core returned for it, the
time it was handled at, and the seconds the core's `handle` took."""
Observer = Callable[[Sequence[Handled]], None]
"""Told every handled event, in order, in batches (`OBSERVE_GRAIN_S`); at once, one event a
batch, while the service is not running (tests driving `submit` directly)."""


_Part = TypeVar("_Part", bound=Callable[..., Any])


def handles(*types: type) -> Callable[[_Part], _Part]:
    """Mark a sink with the command types it acts on, or a listener with the event types:
    the service calls that sink only when an event's commands include one of them, and
    that listener only for events of those types. Every part on the routing path runs
    there from cold CPU caches, a few microseconds for the call alone, and most parts act
    on few of a call's events (a fleet's listener on node and trunk events only);
    unmarked parts see everything."""
    kinds = frozenset(types)

    def mark(part: _Part) -> _Part:
        part.handles = kinds  # type: ignore[attr-defined]
        return part

    return mark


def handled_by(part: object) -> frozenset[type] | None:
    """The types `part` was marked with (`handles`), None when it sees everything."""
    kinds: frozenset[type] | None = getattr(part, "handles", None)
    return kinds


class Component(Protocol):
    """A long-running adapter. `run` returns only when stopped; raising means "restart me"."""

    name: str

    async def run(self) -> None: ...


class AsteriskLink(Protocol):
    """What /readyz and /metrics read from an Asterisk node (adapters/ami)."""

    @property
    def name(self) -> str: ...
    @property
    def node(self) -> str: ...
    @property
    def ready(self) -> bool: ...
    @property
    def drift(self) -> Mapping[str, int]: ...


class StoreLink(Protocol):
    """What /readyz reads from the store writer (store/writer.py)."""

    @property
    def healthy(self) -> bool: ...
    @property
    def last_error(self) -> str: ...


class LeadershipLink(Protocol):
    """Who routes (ha/): read by /readyz and the control API, asked by the AMI outbox."""

    @property
    def role(self) -> str:
        """leader, standby, starting, fenced"""

    @property
    def leader_address(self) -> str: ...
    def may_send(self) -> bool: ...


class BrokerLink(Protocol):
    """What /readyz reads from the MQTT component (mqtt/component.py)."""

    @property
    def connected(self) -> bool: ...


@dataclass
class Parts:
    """The adapters that health checks, metrics and the other surfaces look at; each
    adapter's attach function sets its own field."""

    nodes: list[AsteriskLink] = field(default_factory=list)
    store: StoreLink | None = None
    mqtt: BrokerLink | None = None
    leadership: LeadershipLink | None = None
    """Absent where nothing decides leadership (in-process tests): this process routes."""
    live: LiveView | None = None
    """The one live view HTTP, MQTT and the terminal share (`LiveView.attach`)."""
    expected_wait: Estimator | None = None
    """Expected waits for the live view, the API and announcements (`live.expected_wait`)."""
    accounts: AccountBook | None = None
    """Users, roles and login sessions (`accounts.attach`); absent: the machine token only."""
    audit: AuditLog | None = None
    """Where supervisor actions are recorded (`console.attach`); absent: not recorded."""


@dataclass
class Service:
    config: Config
    router: Router
    clock: Callable[[], float] = time.time
    sinks: list[CommandSink] = field(default_factory=list)
    listeners: list[EventListener] = field(default_factory=list)
    observers: list[Observer] = field(default_factory=list)
    """Parts off the routing path, told in batches after the sinks (`Observer`)."""
    components: list[Component] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    parts: Parts = field(default_factory=Parts)
    starting: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run in order before routing starts (leadership, journal replay, session restore);
    components marked `runs_on_standby` (HTTP) are already up while they wait."""
    stopping: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    """Run when `run` ends however it ends (cancelled, failed): release what a starting step
    took, such as the leadership lock, so a service run again in this process can take it."""
    durability: list[Callable[[float], Awaitable[bool]]] = field(default_factory=list)
    """Each waits (up to the given seconds) until what was submitted so far is stored."""
    routing: bool = False
    """True once the starting steps are done and the routing components run."""
    reloaded: list[Callable[[Config], None]] = field(default_factory=list)
    """Told the new config after a reload reached the core (`apply_config`)."""
    _wake: asyncio.Event | None = None
    _sleep_until: float = 0.0
    _observed: list[Handled] | None = None
    """Handled events not yet told to the observers; None: tell them at once."""
    _observe_timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_config(cls, config: Config, clock: Callable[[], float] = time.time) -> Service:
        return cls(config=config, router=Router(config.to_centre()), clock=clock)

    def apply_config(self, config: Config) -> None:
        """A reloaded config, already applied to the core: every part that reads it follows."""
        self.config = config
        for part in self.reloaded:
            try:
                part(config)
            except Exception:
                log.exception("config_reload_part_failed", part=getattr(part, "__qualname__", repr(part)))

    def submit(self, event: ev.Event, now: float | None = None) -> list[cmd.Command]:
        """Hand one event to the router and every command it returns to every sink."""
        at = self.clock() if now is None else now
        kind = type(event)
        for listener in self.listeners:
            # `handled_by` inlined: a call per part would cost what skipping it saves.
            wanted = getattr(listener, "handles", None)
            if wanted is None or kind in wanted:
                listener(event, at)
        t0 = time.perf_counter()
        out = self.router.handle(event, at)
        spent = time.perf_counter() - t0
        self._to_sinks(out, at)
        self._observe(((event, out, at, spent),))
        if self._wake is not None:
            # Wake the ticker only when this event brought the next timer forward: waking it
            # on every event cost more than the routing itself.
            due = self.router.next_timer_at()
            if due is not None and tick_at(due) < self._sleep_until:
                self._wake.set()
        return out

    def submit_all(self, events: Sequence[ev.Event], now: float) -> list[cmd.Command]:
        """Hand a run of events to the router one by one, then everything they returned to
        each sink at once: a restart's 20,000 restored sessions cost each sink one call (and
        one pass of whatever it does per call: a view version, a log write, a wake-up)
        instead of 20,000. Only for events no sink needs to see one at a time, whose
        commands mean the same in one list (a restore at start); `submit` otherwise."""
        out: list[cmd.Command] = []
        handle = self.router.handle
        listeners = self.listeners
        handled: list[Handled] = []
        for event in events:
            kind = type(event)
            for listener in listeners:
                wanted = getattr(listener, "handles", None)
                if wanted is None or kind in wanted:
                    listener(event, now)
            t0 = time.perf_counter()
            got = handle(event, now)
            handled.append((event, got, now, time.perf_counter() - t0))
            out.extend(got)
        self._to_sinks(out, now)
        self._observe(handled)
        if self._wake is not None:
            self._wake.set()
        return out

    def _to_sinks(self, out: list[cmd.Command], at: float) -> None:
        if not out:
            return  # most ticks: nothing for any sink
        kinds: set[type] | None = None
        for sink in self.sinks:
            wanted = getattr(sink, "handles", None)
            if wanted is not None:
                if kinds is None:
                    kinds = {type(c) for c in out}
                if wanted.isdisjoint(kinds):
                    continue
            try:
                sink(out, at)
            except Exception:
                # A broken sink must not stop routing; it is logged and the others go on.
                log.exception("sink_failed", sink=getattr(sink, "__qualname__", repr(sink)))

    def _observe(self, handled: Sequence[Handled]) -> None:
        pending = self._observed
        if pending is None:
            self._to_observers(handled)
            return
        pending.extend(handled)
        if self._observe_timer is None:
            # At the next point of the grid: 0 < delay <= OBSERVE_GRAIN_S.
            delay = OBSERVE_GRAIN_S - self.clock() % OBSERVE_GRAIN_S
            self._observe_timer = asyncio.get_running_loop().call_later(delay, self.flush_observers)

    def hold_observers(self) -> None:
        """From now on gather handled events for the observers, told every
        `OBSERVE_GRAIN_S` on the running event loop or by `flush_observers` (`run` does this;
        a benchmark can, to see what the observers cost per batch)."""
        if self._observed is None:
            self._observed = []

    def flush_observers(self) -> None:
        """Tell the observers everything handled so far (the timer does this every
        `OBSERVE_GRAIN_S`; a reader that must see the very last event may call it)."""
        if self._observe_timer is not None:
            self._observe_timer.cancel()
            self._observe_timer = None
        if not self._observed:
            return
        batch, self._observed = self._observed, []
        self._to_observers(batch)

    def _to_observers(self, batch: Sequence[Handled]) -> None:
        for observer in self.observers:
            try:
                observer(batch)
            except Exception:
                log.exception("observer_failed", observer=getattr(observer, "__qualname__", repr(observer)))

    async def stored(self, timeout_s: float = 5.0) -> bool:
        """True once every change submitted so far is in the store: what a control path
        awaits before it acknowledges a change."""
        # Observers keep durable state too (the agent sessions): tell them first.
        self.flush_observers()
        results = [await wait(timeout_s) for wait in self.durability]
        return all(results)

    async def tick_forever(self, max_sleep_s: float = 1.0) -> None:
        """Fire the core's timers on time: sleep until the next one is due, then tick."""
        self._wake = asyncio.Event()
        while True:
            due = self.router.next_timer_at()
            delay = max_sleep_s if due is None else min(max_sleep_s, max(0.0, tick_at(due) - self.clock()))
            self._sleep_until = self.clock() + delay
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            due = self.router.next_timer_at()
            if due is not None and due <= self.clock():
                self.submit(ev.Tick())

    async def run(self) -> None:
        """Run the ticker and every component until cancelled."""
        # The centre built at start-up (agents, pools, indexes) lives as long as the process;
        # moving it out of the collector's reach keeps full collections, which otherwise
        # pause routing for tens of milliseconds at 20,000 agents, short; young and middle
        # collections run more often and scan less each (collector.py).
        collector.settle()
        self.hold_observers()
        try:
            await self._run_components()
        finally:
            self.flush_observers()
            self._observed = None
            for step in reversed(self.stopping):
                try:
                    await step()
                except Exception:
                    log.exception("stop_step_failed", step=getattr(step, "__qualname__", repr(step)))

    async def _run_components(self) -> None:
        async with asyncio.TaskGroup() as tg:
            later = []
            for component in self.components:
                if getattr(component, "runs_on_standby", False):
                    tg.create_task(supervise(component.name, component.run), name=component.name)
                else:
                    later.append(component)
            for step in self.starting:
                await step()
            self.routing = True
            tg.create_task(self.tick_forever(), name="ticker")
            for component in later:
                tg.create_task(supervise(component.name, component.run), name=component.name)


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    initial_backoff_s: float = 0.5,
    max_backoff_s: float = 30.0,
) -> None:
    """Restart a failing component with exponential backoff; a clean return ends it."""
    backoff = initial_backoff_s
    while True:
        started = time.monotonic()
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if time.monotonic() - started > 60:
                backoff = initial_backoff_s
            log.warning("component_failed", component=name, error=str(exc), retry_in_s=backoff)
            await asyncio.sleep(backoff)
            backoff = min(max_backoff_s, backoff * 2)
