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
from operator import attrgetter
from typing import Any

from cc_router.core.commands import AgentStateChanged, Explanation, InteractionFinished, Offer


class _Spec:
    __slots__ = ("cls", "enums", "get", "nested", "tag")

    def __init__(self, tag: int, cls: type) -> None:
        self.tag = tag
        self.cls = cls
        names: tuple[str, ...] = cls.__slots__  # type: ignore[attr-defined]
        self.get: Callable[[Any], tuple[Any, ...]] = attrgetter(*names)
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
_BY_CLASS = {s.cls: s for s in _BY_TAG}


def encode(obj: Any) -> tuple[Any, ...]:
    spec = _BY_CLASS[type(obj)]
    values = list(spec.get(obj))
    for i, _ in spec.enums:
        v = values[i]
        if isinstance(v, enum.Enum):
            values[i] = v.value
    for i in spec.nested:
        v = values[i]
        if v is not None:
            values[i] = encode(v)
    return (spec.tag, *values)


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
    return [(encode(c), now) for c, now in items]


def decode_items(items: list[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """Records of this format, and of the one before it (the dataclasses pickled whole)."""
    return [(decode(c) if type(c) is tuple else c, now) for c, now in items]
