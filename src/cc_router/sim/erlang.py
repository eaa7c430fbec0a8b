"""Queueing formulas the simulator is validated against.

Erlang C is M/M/N (callers wait for ever). Erlang A is M/M/N+M (Palm): callers abandon
after an exponential patience with mean 1/theta. Erlang A is computed here directly from
its birth-death chain (Palm's method) rather than from the closed forms with incomplete
gamma functions (Garnett, Mandelbaum & Reiman 2002): the chain is truncated where its
probabilities fall below 1e-16, which makes the result exact to double precision and
needs no special functions. Service level uses the definition of the store's reports:
answered within the threshold / (answered + abandoned after the threshold).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def erlang_b(traffic: float, agents: int) -> float:
    """Blocking probability of M/M/N/N, by the stable recursion."""
    b = 1.0
    for n in range(1, agents + 1):
        b = traffic * b / (n + traffic * b)
    return b


def erlang_c(traffic: float, agents: int) -> float:
    """Probability that a caller waits in M/M/N (needs traffic < agents)."""
    if traffic >= agents:
        return 1.0
    b = erlang_b(traffic, agents)
    return agents * b / (agents - traffic * (1.0 - b))


@dataclass(frozen=True, slots=True)
class ErlangResult:
    p_wait: float
    """Probability that an arriving caller finds every agent busy."""
    service_level: float
    """answered within threshold / (answered + abandoned after threshold)."""
    asa_s: float
    """Mean wait of answered callers."""
    p_abandon: float
    occupancy: float


def erlang_c_metrics(traffic: float, agents: int, aht_s: float, threshold_s: float) -> ErlangResult:
    c = erlang_c(traffic, agents)
    gap = (agents - traffic) / aht_s
    return ErlangResult(
        p_wait=c,
        service_level=1.0 - c * math.exp(-gap * threshold_s),
        asa_s=c / gap,
        p_abandon=0.0,
        occupancy=traffic / agents,
    )


def _stationary(lam: float, mu: float, theta: float, agents: int) -> list[float]:
    """Stationary distribution of the number in system of M/M/N+M."""
    weights = [1.0]
    k = 0
    while True:
        k += 1
        rate_down = min(k, agents) * mu + max(k - agents, 0) * theta
        w = weights[-1] * lam / rate_down
        weights.append(w)
        if k > agents and w < 1e-16 * sum(weights):
            break
        if k > 100_000:
            raise ValueError("Erlang A chain did not converge: is patience infinite with traffic >= agents?")
    total = sum(weights)
    return [w / total for w in weights]


def erlang_a_metrics(
    traffic: float, agents: int, aht_s: float, patience_s: float, threshold_s: float
) -> ErlangResult:
    """M/M/N+M with mean patience `patience_s` (exponential)."""
    mu = 1.0 / aht_s
    lam = traffic * mu
    theta = 1.0 / patience_s
    pi = _stationary(lam, mu, theta, agents)
    p_wait = sum(pi[agents:])
    p_abandon = sum(p * (k - agents) * theta for k, p in enumerate(pi) if k > agents) / lam
    served_by_t, abandoned_by_t, wait_served = _tagged(pi, agents, mu, theta, threshold_s)
    p_served = 1.0 - p_abandon
    answered_within = (1.0 - p_wait) + served_by_t
    divisor = p_served + (p_abandon - abandoned_by_t)
    return ErlangResult(
        p_wait=p_wait,
        service_level=answered_within / divisor,
        asa_s=wait_served / p_served,
        p_abandon=p_abandon,
        occupancy=traffic * p_served / agents,
    )


def _tagged(pi: list[float], agents: int, mu: float, theta: float, t: float) -> tuple[float, float, float]:
    """For a caller arriving to a full system (FCFS): P(served by t), P(abandoned by t) and
    E[wait; served], each unconditioned (weighted by the arrival-time state, PASTA).

    At queue position j (1 = head) the caller moves up at rate N*mu + (j-1)*theta (a
    service ends or someone ahead gives up) and gives up itself at rate theta; moving up
    from position 1 means being answered. The phase-type chain is solved by uniformization.
    """
    n_pos = len(pi) - agents
    if n_pos <= 0:
        return 0.0, 0.0, 0.0
    p = [pi[agents + j - 1] for j in range(1, n_pos + 1)]  # index j-1 = position j
    up = [agents * mu + j * theta for j in range(n_pos)]  # from position j+1
    # Mean wait to service, by first-step analysis from the head backwards.
    time_to_serve = [0.0] * n_pos  # E[time; served] from position j+1
    p_serve = [0.0] * n_pos
    for j in range(n_pos):
        out = up[j] + theta
        prev_p = 1.0 if j == 0 else p_serve[j - 1]
        prev_t = 0.0 if j == 0 else time_to_serve[j - 1]
        p_serve[j] = up[j] / out * prev_p
        # E[T 1{served}] = P(served) * E[sojourn here] + (up/out) * E[T' 1{served'}]
        time_to_serve[j] = p_serve[j] / out + up[j] / out * prev_t
    wait_served = sum(p[j] * time_to_serve[j] for j in range(n_pos))
    rate = max(up) + theta
    steps_mean = rate * t
    # Poisson weights of the number of uniformized jumps by time t.
    k_max = int(steps_mean + 12 * math.sqrt(steps_mean + 1) + 20)
    served = abandoned = 0.0
    vec = p[:]
    log_w = -steps_mean
    cum_weight = 0.0
    absorbed_served = absorbed_abandoned = 0.0
    for k in range(k_max + 1):
        weight = math.exp(log_w)
        cum_weight += weight
        served += weight * absorbed_served
        abandoned += weight * absorbed_abandoned
        new = [0.0] * n_pos
        for j in range(n_pos):
            mass = vec[j]
            if mass == 0.0:
                continue
            move = mass * up[j] / rate
            give_up = mass * theta / rate
            if j == 0:
                absorbed_served += move
            else:
                new[j - 1] += move
            absorbed_abandoned += give_up
            new[j] += mass - move - give_up
        vec = new
        log_w += math.log(steps_mean) - math.log(k + 1) if steps_mean > 0 else -math.inf
    # Jumps beyond k_max carry negligible weight; count them as fully absorbed.
    tail = max(0.0, 1.0 - cum_weight)
    served += tail * absorbed_served
    abandoned += tail * absorbed_abandoned
    return served, abandoned, wait_served
