"""The repeat-buying process behind the demo's orders: acquisition days, gamma purchase rates, beta
dropout after each repeat purchase (BG/NBD), and the decaying rate of customers slipping away."""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

# --- the repeat-buying process --------------------------------------------------------------------


class _Buyers(NamedTuple):
    """Per-buyer parameters of the purchase process (rates per day)."""

    rate: np.ndarray  # gamma-distributed purchase rate
    dropout: np.ndarray  # beta-distributed probability of leaving after each repeat purchase
    slipping: np.ndarray  # bool: rate decays instead of stopping
    tau: np.ndarray  # decay time (days) for the slipping group


RATE_SHAPE = 0.75  # gamma shape r: strong heterogeneity, many slow buyers, a few very frequent ones
DROPOUT_A, DROPOUT_B = 1.0, 9.0  # beta(a, b): on average one buyer in ten leaves after a purchase
SLIPPING_SHARE = 0.12
NEVER_BOUGHT_SHARE = 0.15
B2B_SHARE = 0.10


def _draw_buyers(rng: np.random.Generator, n: int, scale: float, days: int) -> _Buyers:
    rate = rng.gamma(RATE_SHAPE, scale, n)
    dropout = rng.beta(DROPOUT_A, DROPOUT_B, n)
    slipping = rng.random(n) < SLIPPING_SHARE
    tau = rng.uniform(120.0, 540.0, n)
    # A slipping buyer starts keen and fades; they never leave at once.
    rate = np.where(slipping, rate * 1.8, rate)
    dropout = np.where(slipping, 0.0, dropout)
    rate = np.minimum(rate, max(0.25, 4 * scale))  # nobody buys more than every few days
    return _Buyers(rate, dropout, slipping, tau)


def _simulate(
    rng: np.random.Generator, first_day: np.ndarray, buyers: _Buyers, days: int
) -> tuple[np.ndarray, np.ndarray]:
    """Purchase days of each buyer from their first purchase until ``days``.

    Returns (buyer index, day) sorted by buyer then day. Inter-purchase times are exponential
    (Poisson purchasing while active); after each repeat purchase the buyer leaves with probability
    ``dropout`` (BG/NBD). For the slipping group the rate is ``rate * exp(-(t - t0) / tau)``, and the
    next purchase comes from inverting the integrated rate; when the remaining rate cannot produce
    another purchase, there is none.
    """
    n = first_day.size
    start = first_day.astype(float) + rng.random(n)
    t = start.copy()
    idx_parts = [np.arange(n)]
    day_parts = [first_day.astype(np.int64)]
    active = np.arange(n)
    repeat = False
    while active.size:
        if repeat:
            active = active[rng.random(active.size) >= buyers.dropout[active]]
        repeat = True
        e = rng.standard_exponential(active.size)
        rate = buyers.rate[active]
        now = t[active]
        nxt = now + e / rate
        slip = buyers.slipping[active]
        if slip.any():
            tau = buyers.tau[active][slip]
            t0 = start[active][slip]
            left = np.exp(-(now[slip] - t0) / tau) - e[slip] / (rate[slip] * tau)
            with np.errstate(divide="ignore", invalid="ignore"):
                nxt[slip] = np.where(left > 0, t0 - tau * np.log(np.maximum(left, 1e-300)), np.inf)
        keep = nxt < days
        active = active[keep]
        t[active] = nxt[keep]
        idx_parts.append(active.copy())
        day_parts.append(np.floor(nxt[keep]).astype(np.int64))
    idx = np.concatenate(idx_parts)
    day = np.concatenate(day_parts)
    order = np.lexsort((day, idx))
    return idx[order], day[order]


def _first_days(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Acquisition days of buyers: the business grows, so later days are a little more frequent."""
    return np.minimum(np.floor(days * rng.random(n) ** 0.8).astype(np.int64), days - 1)


@functools.lru_cache(maxsize=16)
def _calibrate(orders_per_buyer: float, days: int) -> float:
    """The gamma scale that gives ``orders_per_buyer`` on average, found on a fixed pilot sample.

    The mean number of orders grows smoothly with the scale, almost linearly on log-log axes, so a
    few secant steps on a 10,000-buyer pilot (the same random numbers at every step) are enough.
    """
    target = np.log(orders_per_buyer)

    def gap(log_scale: float) -> float:
        rng = np.random.default_rng(7)
        first = _first_days(rng, 10_000, days)
        buyers = _draw_buyers(rng, first.size, float(np.exp(log_scale)), days)
        idx, _day = _simulate(rng, first, buyers, days)
        return float(np.log(idx.size / first.size) - target)

    x0, x1 = np.log(0.01), np.log(0.1)
    g0, g1 = gap(x0), gap(x1)
    for _ in range(12):
        if abs(g1) < 0.02 or g1 == g0:  # the pilot itself is only this precise
            break
        x0, x1, g0 = x1, float(np.clip(x1 - g1 * (x1 - x0) / (g1 - g0), np.log(1e-5), np.log(20.0))), g1
        g1 = gap(x1)
    return float(np.exp(x1))
