"""Simulate customer populations from the BG/NBD, MBG/NBD and Pareto/NBD models.

Used to check parameter recovery and the prediction formulas: Fader, Hardie & Lee (2005),
*Marketing Science* 24(2) (BG/NBD); Batislam, Denizel & Filiztekin (2007) (MBG/NBD); Schmittlein,
Morrison & Colombo (1987), *Management Science* 33(1) (Pareto/NBD). Every customer makes a first
purchase at time 0 and is observed until ``T``; purchases in ``(T, T + holdout]`` are counted in
``frequency_holdout``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from customerbase._types import ArrayLike, BoolArray, FloatArray, IntArray

__all__ = ["SimulatedCustomers", "simulate_bgnbd", "simulate_mbgnbd", "simulate_paretonbd"]


@dataclass(frozen=True)
class SimulatedCustomers:
    """Simulated ``(x, t_x, T)``, holdout purchase counts and whether each customer was alive at ``T``.

    Output of the simulators of the models of Fader, Hardie & Lee (2005) and Schmittlein et al. (1987).
    """

    frequency: IntArray
    recency: FloatArray
    T: FloatArray
    frequency_holdout: IntArray
    alive_at_T: BoolArray


def _horizons(n: int, T: ArrayLike) -> FloatArray:
    t = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).astype(np.float64)
    if (t < 0).any():
        raise ValueError("T must be non-negative")
    return t


def _simulate_beta_geo(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    holdout: float,
    rng: np.random.Generator,
    drop_at_first: bool,
) -> SimulatedCustomers:
    big_t = _horizons(n, T)
    end = big_t + holdout
    lam = np.maximum(rng.gamma(r, 1.0 / alpha, n), 1e-12)
    p = rng.beta(a, b, n)
    t = np.zeros(n)
    x = np.zeros(n, dtype=np.int64)
    t_x = np.zeros(n)
    x_h = np.zeros(n, dtype=np.int64)
    death = np.full(n, np.inf)
    active = np.ones(n, dtype=bool)
    if drop_at_first:
        dead0 = rng.random(n) < p
        active[dead0] = False
        death[dead0] = 0.0
    while active.any():
        idx = np.flatnonzero(active)
        t[idx] += rng.exponential(1.0 / lam[idx])
        over = t[idx] > end[idx]
        active[idx[over]] = False
        buy = idx[~over]
        cal = t[buy] <= big_t[buy]
        x[buy[cal]] += 1
        t_x[buy[cal]] = t[buy[cal]]
        x_h[buy[~cal]] += 1
        die = buy[rng.random(buy.shape[0]) < p[buy]]
        active[die] = False
        death[die] = t[die]
    return SimulatedCustomers(x, t_x, big_t, x_h, death > big_t)


def simulate_bgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    holdout: float = 0.0,
    rng: np.random.Generator,
) -> SimulatedCustomers:
    """Simulate ``n`` customers from the BG/NBD model (Fader, Hardie & Lee 2005).

    Purchases follow a Poisson process of rate ``lambda ~ Gamma(r, alpha)``; after each repeat
    purchase the customer drops out with probability ``p ~ Beta(a, b)``.
    """
    return _simulate_beta_geo(n, r, alpha, a, b, T, holdout, rng, drop_at_first=False)


def simulate_mbgnbd(
    n: int,
    *,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: ArrayLike,
    holdout: float = 0.0,
    rng: np.random.Generator,
) -> SimulatedCustomers:
    """Simulate ``n`` customers from the MBG/NBD model (Batislam, Denizel & Filiztekin 2007).

    As BG/NBD, but the customer may also drop out right after the first purchase.
    """
    return _simulate_beta_geo(n, r, alpha, a, b, T, holdout, rng, drop_at_first=True)


def simulate_paretonbd(
    n: int,
    *,
    r: float,
    alpha: float,
    s: float,
    beta: float,
    T: ArrayLike,
    holdout: float = 0.0,
    rng: np.random.Generator,
) -> SimulatedCustomers:
    """Simulate ``n`` customers from the Pareto/NBD model (Schmittlein, Morrison & Colombo 1987).

    Purchases at Poisson rate ``lambda ~ Gamma(r, alpha)`` during an exponential lifetime of rate
    ``mu ~ Gamma(s, beta)``. Given ``k`` purchases in ``(0, L]``, the last one is ``L`` times the
    maximum of ``k`` uniforms, i.e. ``L U^(1/k)``.
    """
    big_t = _horizons(n, T)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = np.maximum(rng.gamma(s, 1.0 / beta, n), 1e-300)
    tau = rng.exponential(1.0 / mu)
    live_cal = np.minimum(tau, big_t)
    x = rng.poisson(lam * live_cal).astype(np.int64)
    u = rng.random(n)
    with np.errstate(divide="ignore"):
        t_x = np.where(x > 0, live_cal * u ** (1.0 / np.maximum(x, 1)), 0.0)
    live_hold = np.clip(np.minimum(tau, big_t + holdout) - big_t, 0.0, None)
    x_h = rng.poisson(lam * live_hold).astype(np.int64)
    return SimulatedCustomers(x, t_x, big_t, x_h, tau > big_t)
