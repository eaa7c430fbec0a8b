"""Random durations (handle time, patience, ring delay, wrap-up, pauses)."""

from __future__ import annotations

import math
import random
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class DistKind(StrEnum):
    EXPONENTIAL = "exponential"
    LOGNORMAL = "lognormal"
    FIXED = "fixed"
    NONE = "none"
    """Never happens (infinite): a caller who never gives up."""


class Dist(BaseModel):
    """`{dist: lognormal, mean_s: 240, sd_s: 120}`; `sd_s` only matters for lognormal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dist: DistKind = DistKind.EXPONENTIAL
    mean_s: float = Field(default=0.0, ge=0)
    sd_s: float | None = Field(default=None, gt=0, description="lognormal only; default = mean_s")

    @model_validator(mode="after")
    def _needs_mean(self) -> Self:
        if self.dist in (DistKind.EXPONENTIAL, DistKind.LOGNORMAL) and self.mean_s <= 0:
            raise ValueError(f"{self.dist} needs mean_s > 0")
        return self

    def sampler(self) -> Sampler:
        return Sampler(self)


class Sampler:
    """A `Dist` made ready to draw from quickly (parameters precomputed)."""

    __slots__ = ("_a", "_b", "kind")

    def __init__(self, d: Dist) -> None:
        self.kind = d.dist
        if d.dist is DistKind.LOGNORMAL:
            sd = d.sd_s if d.sd_s is not None else d.mean_s
            s2 = math.log1p((sd / d.mean_s) ** 2)
            self._a, self._b = math.log(d.mean_s) - s2 / 2, math.sqrt(s2)
        elif d.dist is DistKind.EXPONENTIAL:
            self._a, self._b = 1.0 / d.mean_s, 0.0
        else:
            self._a, self._b = d.mean_s, 0.0

    def draw(self, rng: random.Random) -> float:
        kind = self.kind
        if kind is DistKind.EXPONENTIAL:
            return rng.expovariate(self._a)
        if kind is DistKind.LOGNORMAL:
            return rng.lognormvariate(self._a, self._b)
        if kind is DistKind.FIXED:
            return self._a
        return math.inf
