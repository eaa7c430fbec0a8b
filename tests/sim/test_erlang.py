"""The Erlang formulas themselves, against known values and exact special cases."""

from __future__ import annotations

import math

import pytest

from cc_router.sim.erlang import erlang_a_metrics, erlang_b, erlang_c, erlang_c_metrics


def test_erlang_c_textbook_case() -> None:
    m = erlang_c_metrics(10.0, 14, 180.0, 20.0)
    assert m.p_wait == pytest.approx(0.1741, abs=5e-4)
    assert m.service_level == pytest.approx(0.888, abs=5e-4)
    assert m.asa_s == pytest.approx(0.1741 * 180 / 4, rel=1e-3)


def test_erlang_b_small_case() -> None:
    # B(A=1, N=1) = 1/2; B(2, 2) = 2/5
    assert erlang_b(1.0, 1) == pytest.approx(0.5)
    assert erlang_b(2.0, 2) == pytest.approx(0.4)
    assert erlang_c(12.0, 10) == 1.0


def test_erlang_a_with_patience_equal_to_service_is_m_m_infinity() -> None:
    # theta == mu: the number in system is Poisson(A), whatever N.
    a, n = 10.0, 14
    m = erlang_a_metrics(a, n, 180.0, 180.0, 20.0)
    poisson = [math.exp(-a)]
    for k in range(1, 120):
        poisson.append(poisson[-1] * a / k)
    assert m.p_wait == pytest.approx(sum(poisson[n:]), abs=1e-9)
    excess = sum((k - n) * p for k, p in enumerate(poisson) if k > n)
    assert m.p_abandon == pytest.approx(excess / a, abs=1e-9)


def test_erlang_a_tends_to_erlang_c_without_abandons() -> None:
    a = erlang_a_metrics(10.0, 14, 180.0, 1e9, 20.0)
    c = erlang_c_metrics(10.0, 14, 180.0, 20.0)
    assert a.p_wait == pytest.approx(c.p_wait, abs=1e-6)
    assert a.service_level == pytest.approx(c.service_level, abs=1e-6)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-5)


def test_erlang_a_impatience_helps_those_who_stay() -> None:
    a = erlang_a_metrics(10.0, 14, 180.0, 120.0, 20.0)
    c = erlang_c_metrics(10.0, 14, 180.0, 20.0)
    assert a.p_wait < c.p_wait
    assert a.service_level > c.service_level
    assert 0.0 < a.p_abandon < 0.05
