"""Prometheus metrics in a registry of our own (the process-global one stays untouched).

Labels are only queue, channel, state and reason: bounded sets chosen in the config.
Caller numbers and agent ids never become labels (agents appear as counts per state).
Gauges and interaction counters are read from the `LiveView` at scrape time; only what
the view does not keep (offers, declines, rejections, wait and handle-time histograms)
is counted as commands go by.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.vocabulary import ABANDONED_OUTCOMES, CancelReason, DeclineReason
from cc_router.live import LiveView
from cc_router.service import Handled, Service

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
HANDLE_BUCKETS = (5e-6, 1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2)
WAIT_BUCKETS = (1, 2, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 1200)


class _LiveCollector(Collector):
    def __init__(self, live: LiveView) -> None:
        self._live = live

    def collect(self) -> Iterator[Metric]:
        live = self._live
        queues = live.queues()
        waiting = GaugeMetricFamily(
            "cc_router_queue_waiting", "Interactions waiting in the queue", labels=["queue", "channel"]
        )
        longest = GaugeMetricFamily(
            "cc_router_queue_longest_wait_seconds", "Wait of the oldest waiting interaction", labels=["queue"]
        )
        agents = GaugeMetricFamily(
            "cc_router_queue_agents", "Agents eligible for the queue, by state", labels=["queue", "state"]
        )
        sl = GaugeMetricFamily(
            "cc_router_queue_service_level_ratio",
            "Today's service level: answered within threshold / (answered + abandoned after it)",
            labels=["queue"],
        )
        for q in queues:
            waiting.add_metric([q["name"], q["channel"]], q["waiting"])
            longest.add_metric([q["name"]], q["longest_wait_s"])
            for state, n in q["agents"].items():
                agents.add_metric([q["name"], state], n)
            if q["today"]["sl_pct"] is not None:
                sl.add_metric([q["name"]], q["today"]["sl_pct"] / 100.0)
        yield from (waiting, longest, agents, sl)

        ch_waiting = GaugeMetricFamily(
            "cc_router_channel_waiting", "Interactions waiting, per channel", labels=["channel"]
        )
        ch_agents = GaugeMetricFamily(
            "cc_router_channel_agents",
            "Agents able to work the channel, by state",
            labels=["channel", "state"],
        )
        ch_slots = GaugeMetricFamily(
            "cc_router_channel_slots",
            "Capacity slots of logged-in agents: kind=used (load held) or total (capacity)",
            labels=["channel", "kind"],
        )
        for ch in live.channels():
            ch_waiting.add_metric([ch["channel"]], ch["waiting"])
            for state, n in ch["agents"].items():
                ch_agents.add_metric([ch["channel"], state], n)
            ch_slots.add_metric([ch["channel"], "used"], ch["slots"]["used"])
            ch_slots.add_metric([ch["channel"], "total"], ch["slots"]["total"])
        yield from (ch_waiting, ch_agents, ch_slots)

        channel_of = {q["name"]: q["channel"] for q in queues}
        families = {
            "offered": CounterMetricFamily(
                "cc_router_interactions_offered",
                "Interactions that entered the queue",
                labels=["queue", "channel"],
            ),
            "answered": CounterMetricFamily(
                "cc_router_interactions_answered",
                "Interactions answered by an agent",
                labels=["queue", "channel"],
            ),
            "answered_within_sl": CounterMetricFamily(
                "cc_router_interactions_answered_within_sl",
                "Interactions answered within the queue's service_level_s",
                labels=["queue", "channel"],
            ),
            "abandoned": CounterMetricFamily(
                "cc_router_interactions_abandoned",
                "Interactions abandoned by the caller",
                labels=["queue", "channel"],
            ),
            "abandoned_after_sl": CounterMetricFamily(
                "cc_router_interactions_abandoned_after_sl",
                "Interactions abandoned after the queue's service_level_s",
                labels=["queue", "channel"],
            ),
        }
        for name, c in live.totals().items():
            labels = [name, channel_of.get(name, "")]
            for key, fam in families.items():
                fam.add_metric(labels, getattr(c, key))
        yield from families.values()


class _AmiDriftCollector(Collector):
    """State drift found by the AMI nodes' periodic checks (adapters/ami/drift.py)."""

    def __init__(self, service: Service) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        fam = CounterMetricFamily(
            "cc_router_ami_drift",
            "Differences between the router's view and an Asterisk snapshot, by node and kind",
            labels=["node", "kind"],
        )
        for node in self.service.parts.nodes:
            for kind, n in node.drift.items():
                fam.add_metric([str(node.node), kind], n)
        yield fam


class Metrics:
    """Counters and histograms fed by a listener/sink pair, plus the live gauges."""

    def __init__(self, live: LiveView) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.handle_seconds = Histogram(
            "cc_router_handle_seconds",
            "Time from an event reaching the service to its commands reaching the sinks",
            buckets=HANDLE_BUCKETS,
            registry=r,
        )
        self.events = Counter("cc_router_events", "Events handled, by type", ["reason"], registry=r)
        self.offers = Counter(
            "cc_router_offers",
            "Routing decisions (offers made), by trigger",
            ["queue", "channel", "reason"],
            registry=r,
        )
        self.declines = Counter(
            "cc_router_offer_declines", "Offers not accepted, by reason", ["queue", "reason"], registry=r
        )
        self.exits = Counter(
            "cc_router_exits", "Interactions sent to an exit", ["queue", "reason"], registry=r
        )
        self.rejected = Counter(
            "cc_router_events_rejected", "Events the core refused, by event type", ["reason"], registry=r
        )
        self.answer_wait = Histogram(
            "cc_router_answer_wait_seconds",
            "Wait of answered interactions",
            ["queue"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        self.abandon_wait = Histogram(
            "cc_router_abandon_wait_seconds",
            "Wait of abandoned interactions",
            ["queue"],
            buckets=WAIT_BUCKETS,
            registry=r,
        )
        r.register(_LiveCollector(live))
        self._children: dict[tuple[object, ...], Any] = {}

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        # prometheus_client's labels() takes a lock and validates on every call; the hot
        # path keeps the children it already made.
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def attach(self, service: Service) -> None:
        # An observer: the core's own handle time comes with each handled event (timed by
        # the service around `handle` alone), so nothing here runs on the routing path.
        self._service = service
        self.registry.register(_AmiDriftCollector(service))
        service.observers.append(self.observe)

    def observe(self, batch: Sequence[Handled]) -> None:
        for at, (event, commands, _, spent) in enumerate(batch):
            self._handled(event, commands, spent, batch, at)

    def _handled(
        self,
        event: ev.Event,
        commands: Sequence[cmd.Command],
        spent: float,
        batch: Sequence[Handled],
        at: int,
    ) -> None:
        """One handled event, `batch[at]`."""
        self.handle_seconds.observe(spent)
        self._child(self.events, type(event).__name__).inc()
        for c in commands:
            if isinstance(c, cmd.Offer):
                self._child(self.offers, c.queue, c.channel.value, c.explanation.trigger).inc()
            elif isinstance(c, cmd.CancelOffer):
                if c.reason == CancelReason.TIMEOUT:
                    queue = self._queue_of(c.interaction_id, batch, at)
                    self._child(self.declines, queue, DeclineReason.TIMEOUT).inc()
            elif isinstance(c, cmd.InteractionConnected):
                self._child(self.answer_wait, c.queue).observe(c.wait_s)
            elif isinstance(c, cmd.InteractionFinished):
                if c.outcome in ABANDONED_OUTCOMES:
                    self._child(self.abandon_wait, c.queue).observe(c.wait_s)
            elif isinstance(c, cmd.ExitInteraction):
                self._child(self.exits, c.queue, c.reason).inc()
            elif isinstance(c, cmd.EventRejected):
                self._child(self.rejected, type(c.event).__name__).inc()
        if isinstance(event, ev.OfferDeclined) and cmd.rejection(commands, event) is None:
            queue = self._queue_of(event.interaction_id, batch, at)
            self._child(self.declines, queue, event.reason).inc()

    def _queue_of(self, iid: str, batch: Sequence[Handled], at: int) -> str:
        """The queue of an interaction as of `batch[at]`, told after the batch: its queue now,
        or, if it ended later in the batch, the queue it finished in."""
        it = self._service.router.interactions.get(iid)
        if it is not None:
            return it.queue.name
        for _, commands, _, _ in batch[at:]:
            for c in commands:
                if isinstance(c, cmd.InteractionFinished) and c.interaction_id == iid:
                    return c.queue
        return ""

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
