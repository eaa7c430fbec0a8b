"""The journal's record format: the stored commands as plain tuples.

A command is written as `(tag, field, field, ...)` with enum fields as their plain string
values and nested dataclasses (an offer's explanation) written the same way; reading maps
each back to its class and enums. Pickling the dataclasses themselves spent most of its
time naming classes and enum members (a module import check per class, a reduce call per
member, in every record); plain tuples pickle in a tenth of the time, and this runs in the
routing loop for every event that changes what is stored.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from typing import Any

from cc_router.core.commands import AgentStateChanged, Explanation, InteractionFinished, Offer


class _Spec:
    __slots__ = ("cls", "enums", "get", "nested", "tag")

    def __init__(self, tag: int, cls: type) -> None:
        self.tag = tag
        self.cls = cls
        names: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
        hints = typing.get_type_hints(cls)
        self.enums: list[tuple[int, type[enum.Enum]]] = []
        self.nested: list[int] = []
        for i, name in enumerate(names):
            for t in _members(hints[name]):
                if isinstance(t, type) and issubclass(t, enum.Enum):
                    self.enums.append((i, t))
                elif isinstance(t, type) and t in _CLASSES:
                    self.nested.append(i)


def _members(hint: Any) -> tuple[Any, ...]:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return typing.get_args(hint)
    return (hint,)


_CLASSES: tuple[type, ...] = (InteractionFinished, Offer, AgentStateChanged, Explanation)
"""Tags are positions here: append only, never reorder (journals on disk use them)."""
_BY_TAG = [_Spec(tag, cls) for tag, cls in enumerate(_CLASSES)]


def _encoders() -> dict[type, Callable[[Any], tuple[Any, ...]]]:
    """One straight-line function per class, written out from its fields once at import
    (as `dataclasses` writes `__init__`). `encode` runs on the routing path for every
    event that changes what is stored, from cold CPU caches; a loop over the fields with a
    check per field cost 83 µs there for an offer and an agent state, these 56 (4.0 and
    2.3-3.1 warm). Enum members give their `_value_`, a plain attribute (`.value` is a
    property); the records are those of the field-by-field form."""
    source = []
    for spec in _BY_TAG:
        enums = {i for i, _ in spec.enums}
        parts = [str(spec.tag)]
        for i, name in enumerate(spec.cls.__slots__):  # type: ignore[attr-defined]
            if i in enums:
                parts.append(f"(v._value_ if isinstance(v := c.{name}, Enum) else v)")
            elif i in spec.nested:
                parts.append(f"(None if (v := c.{name}) is None else encoders[type(v)](v))")
            else:
                parts.append(f"c.{name}")
        source.append(f"def encode_{spec.tag}(c):\n    return ({', '.join(parts)},)\n")
    made: dict[type, Callable[[Any], tuple[Any, ...]]] = {}
    names: dict[str, Any] = {"Enum": enum.Enum, "encoders": made}
    exec("\n".join(source), names)  # our own classes' field names only, nothing from outside
    made.update({spec.cls: names[f"encode_{spec.tag}"] for spec in _BY_TAG})
    return made


_ENCODERS = _encoders()


def encode(obj: Any) -> tuple[Any, ...]:
    return _ENCODERS[type(obj)](obj)


def decode(data: tuple[Any, ...]) -> Any:
    spec = _BY_TAG[data[0]]
    values = list(data[1:])
    for i, cls in spec.enums:
        v = values[i]
        if v is not None:
            values[i] = cls(v)
    for i in spec.nested:
        v = values[i]
        if v is not None:
            values[i] = decode(v)
    return spec.cls(*values)


def encode_items(items: list[tuple[Any, float]]) -> list[tuple[tuple[Any, ...], float]]:
    encoders = _ENCODERS
    return [(encoders[type(c)](c), now) for c, now in items]


def decode_items(items: list[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """Records of this format, and of the one before it (the dataclasses pickled whole)."""
    return [(decode(c) if type(c) is tuple else c, now) for c, now in items]
