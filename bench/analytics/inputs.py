"""The benchmark's inputs: the CDNOW calibration summary, a simulated CDNOW-like population and a
synthetic transaction log, generated once (seeded) and cached under ``var/bench/``.

Part of ``python -m bench.analytics`` (see :mod:`bench.analytics`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.analytics.common import CDNOW_BGNBD, CDNOW_FILE, WORK


def cdnow_summary() -> Any:
    """The CDNOW 39-week calibration RFM summary (weeks), computed from the raw transactions."""
    from customerbase import summary_from_transactions

    raw = np.loadtxt(CDNOW_FILE, dtype=str)
    days = np.array([f"{s[:4]}-{s[4:6]}-{s[6:]}" for s in raw[:, 2]], dtype="datetime64[D]")
    return summary_from_transactions(
        raw[:, 1].astype(np.int64),
        days,
        raw[:, 4].astype(np.float64),
        observation_end="1997-09-30",
        freq_days=7,
    )


def cdnow_calibration() -> dict[str, np.ndarray]:
    """The CDNOW 39-week calibration summary (weeks) computed exactly from the raw transactions.

    The published CSV is rounded to 2 decimals (a few rows then have t_x > T, which both libraries
    refuse); the raw transactions give the same summary unrounded.
    """
    from customerbase import compress_rfm

    s = cdnow_summary()
    x = s.frequency.astype(np.float64)
    c = compress_rfm(x, s.recency, s.T)
    return {"x": x, "t_x": s.recency, "T": s.T, "cx": c.x, "ct": c.t_x, "cT": c.T, "cw": c.weights}


def simulated_calibration(n: int, seed: int) -> dict[str, np.ndarray]:
    """A CDNOW-like population: BG/NBD with the published CDNOW parameters, 39 weeks, days rounded.

    First purchases fall on days 0..83 (a 12-week acquisition cohort, like CDNOW's first quarter of
    1997), the calibration period ends on day 273 (week 39); times are whole days expressed in weeks,
    as ``summary_from_transactions(freq_days=7)`` gives them for real orders dated by day.
    """
    from customerbase import compress_rfm
    from customerbase.simulate import simulate_bgnbd

    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, n)
    t_days = (273 - first_day).astype(np.float64)
    sim = simulate_bgnbd(n, **CDNOW_BGNBD, T=t_days / 7.0, rng=rng)
    rec_days = np.where(sim.frequency > 0, np.minimum(np.ceil(sim.recency * 7.0 - 1e-9), t_days), 0.0)
    x = sim.frequency.astype(np.float64)
    t_x = rec_days / 7.0
    T = t_days / 7.0
    c = compress_rfm(x, t_x, T)
    return {"x": x, "t_x": t_x, "T": T, "cx": c.x, "ct": c.t_x, "cT": c.T, "cw": c.weights}


def cached_npz(path: Path, build: Callable[[], dict[str, np.ndarray]]) -> Path:
    if not path.exists():
        WORK.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **build())
        tmp.rename(path)
    return path


TX_FIRST_DAY = np.datetime64("2023-11-21", "D")
TX_DAYS = 1096


def transactions(n_tx: int, seed: int) -> dict[str, np.ndarray]:
    """``n_tx`` transactions of ``n_tx / 10`` customers over three years, as a log ordered by date.

    Each customer has a first purchase day, 1 + NegBin(0.6, mean 9) purchases spread uniformly from
    it to the end, and a gamma-distributed spend level; ids are shuffled 7-digit numbers.
    """
    rng = np.random.default_rng(seed)
    n_cust = max(n_tx // 10, 1)
    first = rng.integers(0, TX_DAYS, n_cust)
    counts = 1 + rng.negative_binomial(0.6, 0.6 / 9.6, n_cust)
    total = int(counts.sum())
    if total < n_tx:
        counts += np.bincount(rng.integers(0, n_cust, n_tx - total), minlength=n_cust)
    owner = np.repeat(np.arange(n_cust), counts)[:n_tx]
    is_first = np.empty(n_tx, dtype=bool)
    is_first[0] = True
    is_first[1:] = owner[1:] != owner[:-1]
    span = TX_DAYS - first[owner]
    day = first[owner] + np.where(is_first, 0, np.floor(rng.random(n_tx) * span).astype(np.int64))
    level = rng.gamma(3.0, 15.0, n_cust)
    amount = np.round(rng.gamma(4.0, 1.0, n_tx) * level[owner] / 4.0 + 1.0, 2)
    ids = 1_000_003 + 7 * rng.permutation(n_cust).astype(np.int64)
    order = np.argsort(day, kind="stable")
    return {
        "customer_ids": ids[owner][order],
        "days": (day[order] + TX_FIRST_DAY.astype(np.int64)).astype(np.int64),
        "amounts": amount[order],
    }


def tx_observation_end() -> str:
    return str(TX_FIRST_DAY + np.timedelta64(TX_DAYS - 1, "D"))
