"""Announcements to a waiting caller: what is said, rounded as people say it, and when."""

from __future__ import annotations

import pytest

from cc_router.core.announce import ENGLISH, AnnouncePolicy, Say, SpokenWait, compose, next_due, spoken_wait


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (10, SpokenWait(1, less_than=True)),
        (44, SpokenWait(1, less_than=True)),
        (50, SpokenWait(1)),
        (170, SpokenWait(3)),
        (9 * 60 + 10, SpokenWait(9)),
        (13 * 60, SpokenWait(15)),
        (26 * 60, SpokenWait(25)),
        (41 * 60, SpokenWait(45)),
        (100 * 60, SpokenWait(105)),
    ],
)
def test_waits_are_rounded_as_people_say_them(seconds: float, said: SpokenWait) -> None:
    assert spoken_wait(seconds) == said


def files(says: list[Say]) -> list[str | int]:
    return [s.file if s.number is None else s.number for s in says]


def test_position_and_wait_in_english_prompts() -> None:
    p = AnnouncePolicy()
    assert files(compose(p, 4, 170, ENGLISH)) == [
        "queue-thereare",
        4,
        "queue-callswaiting",
        "queue-holdtime",
        3,
        "queue-minutes",
        "queue-thankyou",
    ]
    assert files(compose(p, 1, 50, ENGLISH)) == [
        "queue-youarenext",
        "queue-holdtime",
        1,
        "queue-minute",
        "queue-thankyou",
    ]


def test_nothing_about_the_wait_when_unknown_and_nothing_when_about_to_be_connected() -> None:
    p = AnnouncePolicy()
    assert files(compose(p, 3, None, ENGLISH)) == [
        "queue-thereare",
        3,
        "queue-callswaiting",
        "queue-thankyou",
    ]
    assert compose(AnnouncePolicy(position=False), 3, None, ENGLISH) == []
    assert compose(p, 1, 12, ENGLISH) == []  # an agent is about to take it


def test_first_on_entering_then_every_period() -> None:
    p = AnnouncePolicy(every_s=45)
    assert next_due(p, 100.0, None) == 100.0
    assert next_due(p, 100.0, 100.0) == 145.0
