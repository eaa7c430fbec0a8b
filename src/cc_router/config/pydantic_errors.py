"""Pydantic's validation errors as `ConfigIssue`s: plain reasons, "did you mean" for
unknown keys, and never the offending input (it could be a password)."""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from cc_router.config.issues import ConfigIssue, Loc
from cc_router.config.models import Config


def from_pydantic(err: ValidationError) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    for e in err.errors(include_url=False, include_input=False, include_context=False):
        loc: Loc = tuple(e["loc"])
        kind = e["type"]
        msg = e["msg"]
        if loc and loc[-1] == "[key]":
            loc = loc[:-1]
            msg = f"bad key: {msg}"
        elif kind == "extra_forbidden" and loc:
            key = str(loc[-1])
            msg = f"unknown key {key!r}"
            known = _fields_at(loc[:-1])
            if known:
                close = difflib.get_close_matches(key, known, n=1)
                msg += (
                    f" (did you mean {close[0]!r}?)" if close else f" (expected one of: {', '.join(known)})"
                )
        elif kind == "missing":
            msg = "required key is missing"
        for prefix in ("Value error, ", "Assertion failed, "):
            if msg.startswith(prefix):
                msg = msg[len(prefix) :]
        out.append(ConfigIssue(loc, msg))
    return out


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _fields_at(loc: Loc) -> list[str] | None:
    """Key names allowed at `loc` (for "did you mean"), following the model's annotations."""
    tp: Any = Config
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            by_key = {(f.alias or n): f for n, f in tp.model_fields.items()}
            field = by_key.get(str(part))
            if field is None:
                return None
            tp = field.annotation
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [(f.alias or n) for n, f in tp.model_fields.items()]
    return None
