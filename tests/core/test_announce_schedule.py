from cc_router.core.announce import AnnouncePolicy
from cc_router.core.announce_schedule import AnnounceSchedule


def test_first_on_entering_then_every_n_seconds() -> None:
    s = AnnounceSchedule()
    s.join("c1", AnnouncePolicy(every_s=30), now=100.0)
    assert s.next_wake() == 100.0
    assert s.due(100.0) == ["c1"]
    assert s.due(129.0) == []
    assert s.next_wake() == 130.0
    assert s.due(130.5) == ["c1"]
    assert s.next_wake() == 160.5


def test_each_caller_keeps_its_own_rhythm() -> None:
    s = AnnounceSchedule()
    s.join("a", AnnouncePolicy(every_s=60), now=0.0)
    s.join("b", AnnouncePolicy(every_s=20), now=10.0)
    assert s.due(10.0) == ["a", "b"]
    assert s.due(30.0) == ["b"]
    assert s.due(70.0) == ["b", "a"]  # b was due at 50, a at 70


def test_zero_interval_announces_once_per_call() -> None:
    s = AnnounceSchedule()
    s.join("c1", AnnouncePolicy(every_s=0), now=0.0)
    assert s.due(0.0) == ["c1"]
    assert s.due(1.0) == ["c1"]


def test_a_caller_who_left_is_not_announced() -> None:
    s = AnnounceSchedule()
    s.join("c1", AnnouncePolicy(every_s=30), now=0.0)
    s.join("c2", AnnouncePolicy(every_s=30), now=5.0)
    assert s.due(5.0) == ["c1", "c2"]
    s.leave("c1")
    assert s.next_wake() == 35.0
    assert s.due(100.0) == ["c2"]
    s.leave("c2")
    assert s.next_wake() is None
    assert s.due(1000.0) == []


def test_rejoining_replaces_the_old_entry() -> None:
    s = AnnounceSchedule()
    s.join("c1", AnnouncePolicy(every_s=30), now=0.0)
    s.join("c1", AnnouncePolicy(every_s=30), now=50.0)  # moved to another queue
    assert s.due(49.0) == []
    assert s.due(50.0) == ["c1"]
    s.join("c1", AnnouncePolicy(every_s=30), now=80.0)
    s.join("c1", AnnouncePolicy(every_s=30), now=80.0)
    assert s.due(80.0) == ["c1"]
