"""Restoring agent sessions into a fresh core: presence, time in state, pause maximum,
live skills and queue changes, and the recorder that writes them (pure, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cc_router.core import Router
from cc_router.core import commands as cmd
from cc_router.core import events as ev
from cc_router.core.records import AgentState
from cc_router.core.spec import AgentSpec, QueueSpec, StepSpec
from cc_router.ha.sessions import SessionRecorder, restore_events
from cc_router.store.sessions import AgentSession, QueueOverride
from tests.core.centres import centre

T0 = 1_800_000_000.0


def _centre() -> Any:
    return centre(
        [
            AgentSpec("a", skills={"zh": 1}),
            AgentSpec("b", skills={"zh": 1}),
            AgentSpec("c", skills={"en": 1}),
        ],
        [QueueSpec("q", requirement="zh"), QueueSpec("e", requirement="en")],
    )


def test_restored_agent_keeps_time_in_state_and_idle_order() -> None:
    r = Router(_centre())
    out = r.handle(ev.AgentSessionRestored("a", paused=False, since=T0 - 300), T0)
    r.handle(ev.AgentSessionRestored("b", paused=False, since=T0 - 30), T0)
    a = r.agents["a"]
    assert a.state is AgentState.READY and a.state_since == T0 - 300
    (change,) = [c for c in out if isinstance(c, cmd.AgentStateChanged)]
    # Reported now: the stored interval left open by the stopped router closes here.
    assert change.at == T0 and change.state == "ready"
    # Longest idle: a has waited since T0-300, so it gets the first caller.
    offers = [c for c in r.handle(ev.InteractionArrived("x", "q"), T0 + 1) if isinstance(c, cmd.Offer)]
    assert [o.agent_id for o in offers] == ["a"]


def test_restored_pause_ends_at_its_original_maximum() -> None:
    r = Router(_centre())
    r.handle(ev.AgentSessionRestored("a", paused=True, since=T0 - 100, reason="lunch", max_s=160), T0)
    a = r.agents["a"]
    assert (a.state, a.state_reason, a.state_since) == (AgentState.PAUSED, "lunch", T0 - 100)
    assert r.next_timer_at() == T0 + 60
    r.handle(ev.Tick(), T0 + 59)
    assert a.state is AgentState.PAUSED
    r.handle(ev.Tick(), T0 + 61)
    assert a.state is AgentState.READY


def test_restoring_an_agent_already_logged_in_is_rejected() -> None:
    r = Router(_centre())
    r.handle(ev.AgentLoggedIn("a"), T0)
    out = r.handle(ev.AgentSessionRestored("a", paused=False, since=T0 - 5), T0)
    assert any(isinstance(c, cmd.EventRejected) for c in out)


def test_restore_events_order_and_skips_what_the_config_no_longer_has() -> None:
    spec = _centre()
    sessions = [
        AgentSession("b", "paused", "break", T0 - 10, 300.0, None),
        AgentSession("a", "ready", "", T0 - 50, None, {"zh": 1, "en": 2}),
        AgentSession("gone", "ready", "", T0 - 60, None, None),
        AgentSession("c", "logged_out", "", T0 - 70, None, None),
    ]
    queues = [QueueOverride("q", 7, ((30.0, "en", 1),)), QueueOverride("nope", 1, ())]
    events = restore_events(spec, sessions, queues)
    assert [type(e).__name__ for e in events] == [
        "QueueChanged",
        "AgentSkillsChanged",
        "AgentSessionRestored",
        "AgentSessionRestored",
    ]
    q = events[0]
    assert isinstance(q, ev.QueueChanged)
    assert q.queue.priority == 7 and q.queue.steps == (StepSpec(30.0, "en", 1),)
    assert [e.agent_id for e in events[2:] if isinstance(e, ev.AgentSessionRestored)] == ["a", "b"]


@dataclass
class FakeStore:
    ops: list[Any] = field(default_factory=list)

    def put(self, op: Any) -> None:
        self.ops.append(op)

    def clear_live_changes(self) -> None:
        self.ops.append("clear")


def _wired() -> tuple[Router, SessionRecorder, FakeStore, Any]:
    r = Router(_centre())
    store = FakeStore()
    rec = SessionRecorder(r, store)  # type: ignore[arg-type]

    def submit(e: ev.Event, now: float) -> list[cmd.Command]:
        rec.listen(e, now)
        out = r.handle(e, now)
        rec.sink(out, now)
        return out

    return r, rec, store, submit


def test_recorder_writes_presence_pause_and_skills_once_per_change() -> None:
    _r, _rec, store, submit = _wired()
    submit(ev.AgentLoggedIn("a"), T0)
    submit(ev.AgentPaused("a", "lunch", 600), T0 + 10)
    submit(ev.AgentSkillsChanged("a", {"zh": 1, "en": 3}), T0 + 20)
    submit(ev.Tick(), T0 + 30)
    rows = [o for o in store.ops if isinstance(o, AgentSession)]
    assert [(s.presence, s.reason, s.since, s.pause_max_s, s.skills) for s in rows] == [
        ("ready", "", T0, None, None),
        ("paused", "lunch", T0 + 10, 600, None),
        ("paused", "lunch", T0 + 10, 600, {"zh": 1, "en": 3}),
    ]


def test_recorder_sees_pauses_the_core_makes_itself() -> None:
    _r, _rec, store, submit = _wired()
    submit(ev.AgentPaused("b", "x", 5), T0)  # rejected: logged out, nothing written
    assert store.ops == []
    submit(ev.AgentLoggedIn("a"), T0)
    submit(ev.AgentPaused("a", "short", 5), T0 + 1)
    submit(ev.Tick(), T0 + 7)  # the pause ran out: ready again, idle since T0+6
    last = store.ops[-1]
    assert isinstance(last, AgentSession) and (last.presence, last.since) == ("ready", T0 + 6)


def test_recorder_keeps_queue_changes_and_a_reload_clears_them() -> None:
    r, _rec, store, submit = _wired()
    q = r.centre.queue("q")
    assert q is not None
    from dataclasses import replace

    submit(ev.QueueChanged(replace(q, priority=4)), T0)
    assert store.ops == [QueueOverride("q", 4, ())]
    submit(ev.CentreReplaced(_centre()), T0 + 1)
    assert store.ops[-1] == "clear"


def test_round_trip_restores_what_was_recorded() -> None:
    r, _rec, store, submit = _wired()
    submit(ev.AgentLoggedIn("a"), T0)
    submit(ev.AgentLoggedIn("b"), T0 + 5)
    submit(ev.AgentPaused("b", "coaching", 900), T0 + 20)
    latest: dict[str, AgentSession] = {}
    for o in store.ops:
        if isinstance(o, AgentSession):
            latest[o.agent_id] = o
    fresh = Router(_centre())
    for e in restore_events(fresh.centre, latest.values(), []):
        fresh.handle(e, T0 + 100)
    for aid in ("a", "b"):
        old, new = r.agents[aid], fresh.agents[aid]
        assert (new.state, new.state_reason) == (old.state, old.state_reason)
        assert new.state_since == old.state_since
    assert fresh.next_timer_at() == T0 + 920


def test_a_restore_reaches_each_sink_once_and_leaves_the_core_as_one_by_one() -> None:
    from cc_router.service import Service

    sessions = [
        AgentSession("a", "ready", "", T0 - 50, None, {"zh": 1, "en": 2}),
        AgentSession("b", "paused", "break", T0 - 10, 300.0, None),
        AgentSession("c", "paused", "lunch", T0 - 20, None, None),
    ]
    events = restore_events(_centre(), sessions, [QueueOverride("q", 7, ())])
    one = Service(config=None, router=Router(_centre()))  # type: ignore[arg-type]
    calls: list[list[cmd.Command]] = []
    one.sinks.append(lambda out, now: calls.append(list(out)))
    for e in events:
        one.submit(e, T0)
    bulk = Service(config=None, router=Router(_centre()))  # type: ignore[arg-type]
    bulk_calls: list[list[cmd.Command]] = []
    heard: list[ev.Event] = []
    bulk.sinks.append(lambda out, now: bulk_calls.append(list(out)))
    bulk.listeners.append(lambda e, now: heard.append(e))
    out = bulk.submit_all(events, T0)
    # One by one, a sink hears each event that made commands (not the queue change and
    # the skills change); in bulk, once.
    assert len(calls) == 3 and len(events) == 5 and len(bulk_calls) == 1
    assert bulk_calls[0] == out == [c for batch in calls for c in batch]
    assert heard == events  # listeners still hear every event, before the router does
    for aid in ("a", "b", "c"):
        x, y = one.router.agents[aid], bulk.router.agents[aid]
        assert (x.state, x.state_reason, x.state_since, x.spec.skills) == (
            y.state,
            y.state_reason,
            y.state_since,
            y.spec.skills,
        )
    assert bulk.router.next_timer_at() == one.router.next_timer_at() == T0 + 290
    assert all(c.restored for c in out if isinstance(c, cmd.AgentStateChanged))


def test_a_failing_sink_in_a_restore_leaves_the_others_their_commands() -> None:
    from cc_router.service import Service

    svc = Service(config=None, router=Router(_centre()))  # type: ignore[arg-type]
    got: list[cmd.Command] = []

    def broken(out: Any, now: float) -> None:
        raise RuntimeError("sink down")

    svc.sinks.extend([broken, lambda out, now: got.extend(out)])
    svc.submit_all(restore_events(_centre(), [AgentSession("a", "ready", "", T0 - 5, None, None)], []), T0)
    assert [c.agent_id for c in got if isinstance(c, cmd.AgentStateChanged)] == ["a"]
