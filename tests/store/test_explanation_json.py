"""The stored explanation of an offer has every field of the core's Explanation."""

from __future__ import annotations

import json
from dataclasses import asdict, fields

from cc_router.core.commands import Explanation
from cc_router.core.vocabulary import RemoteChoice, Trigger
from cc_router.store.writer import explanation_json


def test_every_field_stored_as_json_lists() -> None:
    e = Explanation(
        trigger=Trigger.ARRIVAL,
        queue="sales",
        strategy="longest_idle",
        step=1,
        requirement="en>=3",
        chosen="a7",
        score=(1.0, -2.5),
        candidates=(("a7", (1.0, -2.5)), ("a9", (1.0, -3.0))),
        excluded=(("a3", "missed"),),
        available=12,
        remote=RemoteChoice.BETTER_REMOTE,
        route="n1->n2",
    )
    got = explanation_json(e)
    # A field added to Explanation later must be stored too.
    assert set(got) == {f.name for f in fields(Explanation)}
    # The same document the generic conversion gives, once tuples are JSON lists.
    assert json.loads(json.dumps(got)) == json.loads(json.dumps(asdict(e)))
    assert got["candidates"] == [["a7", [1.0, -2.5]], ["a9", [1.0, -3.0]]]
    assert got["remote"] == "better_remote"
