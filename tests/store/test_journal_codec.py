"""The journal's plain-tuple records give back the very commands written."""

from __future__ import annotations

import pickle
from dataclasses import replace

from cc_router.core.commands import Offer
from cc_router.core.spec import Channel
from cc_router.core.vocabulary import AgentState, RemoteChoice
from cc_router.logs.bench import call_commands
from cc_router.store import journal_codec as codec
from cc_router.store.writer import _STORED


def test_every_stored_command_round_trips_with_its_enums() -> None:
    items = [(c, 12.5) for c in call_commands(3) if isinstance(c, _STORED)]
    offer = next(c for c, _ in items if isinstance(c, Offer))
    remote = replace(offer.explanation, remote=RemoteChoice.BETTER_REMOTE)
    items.append((replace(offer, explanation=remote), 1.0))
    back = codec.decode_items(pickle.loads(pickle.dumps(codec.encode_items(items))))
    assert back == items
    for (a, _), (b, _) in zip(items, back, strict=True):
        for name in a.__slots__:
            assert type(getattr(a, name)) is type(getattr(b, name)), name
    states = [c for c, _ in back if type(c).__name__ == "AgentStateChanged"]
    assert states and all(isinstance(c.state, AgentState) for c in states)
    assert all(isinstance(c.channel, Channel) for c, _ in back if hasattr(c, "channel"))


def test_each_class_is_encoded_as_field_by_field() -> None:
    """The generated encoders write the very records a plain loop over the fields does."""
    import enum

    def by_field(obj: object) -> tuple[object, ...]:
        out: list[object] = [codec._CLASSES.index(type(obj))]
        for name in obj.__slots__:  # type: ignore[attr-defined]
            v = getattr(obj, name)
            out.append(
                v.value if isinstance(v, enum.Enum) else by_field(v) if type(v) in codec._CLASSES else v
            )
        return tuple(out)

    commands = [c for c in call_commands(3) if isinstance(c, _STORED)]
    assert {type(c) for c in commands} == set(_STORED)
    for c in commands:
        assert codec.encode(c) == by_field(c)
        assert all(type(v) in (str, int, float, bool, tuple, type(None)) for v in codec.encode(c))


def test_records_of_the_previous_format_still_read() -> None:
    items = [(c, 3.0) for c in call_commands(1) if isinstance(c, _STORED)]
    assert codec.decode_items(pickle.loads(pickle.dumps(items))) == items


def test_a_finished_record_written_before_hold_reads_with_no_hold() -> None:
    [finished] = [c for c in call_commands(1) if type(c).__name__ == "InteractionFinished"]
    held = replace(finished, hold_s=42.0)
    record = codec.encode(held)
    assert codec.decode(record) == held
    older = record[:-1]  # the fields before `hold_s` was added at the end
    assert codec.decode(older) == replace(finished, hold_s=0.0)
