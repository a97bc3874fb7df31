"""The backtest's fast paths give what their plain twins give.

* :func:`customerbase._distinct.by_distinct_pairs` (an element-wise function evaluated once per
  distinct pair) against :func:`by_every_pair` (evaluated on every element), on inputs built to have
  many repeated pairs, few, signed zeros and a short array;
* the Pareto/NBD predictions, which use it, against the same expressions evaluated on every customer;
* :func:`customerbase.rfm.purchase_days_between` (the horizon's purchase-days) against the
  ``frequency_holdout`` of a second :func:`calibration_holdout_split`, the way it was computed before.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from customerbase import ParetoNBD
from customerbase._base import log1mexp
from customerbase._distinct import MIN_ELEMENTS, by_distinct_pairs, by_every_pair
from customerbase.paretonbd import _log_f
from customerbase.rfm import calibration_holdout_split, purchase_days_between


def _costly(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(
        special.hyp2f1(1.0, a + 0.5, a + 2.0, b / (b + 3.0)) * np.log1p(a) - b, dtype=np.float64
    )


@pytest.mark.parametrize(
    ("n", "distinct"), [(50, 7), (MIN_ELEMENTS, 3), (20_000, 40), (20_000, 15_000), (5_000, 1)]
)
def test_distinct_pairs_give_what_every_pair_gives(n, distinct):
    rng = np.random.default_rng(n + distinct)
    a = rng.integers(0, distinct, n).astype(np.float64)
    b = (rng.integers(0, distinct, n) / 7.0).astype(np.float64)
    b[: n // 10] = -0.0 if distinct > 1 else 0.0
    calls: list[int] = []

    def counted(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        calls.append(x.shape[0])
        return _costly(x, y)

    fast = by_distinct_pairs(counted, a, b)
    plain = by_every_pair(_costly, a, b)
    np.testing.assert_array_equal(fast, plain)
    if n >= MIN_ELEMENTS:
        assert calls[0] == np.unique(np.stack([a, b]), axis=1).shape[1] < n or distinct >= n
    else:
        assert calls == [n]


def test_a_scalar_broadcasts_like_the_plain_twin():
    x = np.arange(10_000, dtype=np.float64) % 13
    np.testing.assert_array_equal(by_distinct_pairs(_costly, x, 2.0), by_every_pair(_costly, x, 2.0))


@pytest.mark.parametrize(
    "params", [(0.55, 10.6, 0.61, 11.7), (0.55, 14.5, 1.3, 9.0)], ids=["alpha < beta", "alpha >= beta"]
)
def test_pareto_predictions_equal_the_expressions_on_every_customer(params):
    rng = np.random.default_rng(12)
    n = 30_000
    big_t = rng.integers(1, 366, n) / 7.0
    x = rng.poisson(2.0, n).astype(np.float64)
    t_x = np.where(x > 0, np.floor(rng.uniform(0, 1, n) * big_t * 7.0) / 7.0, 0.0)
    model = ParetoNBD()
    model.params_ = dict(zip(("r", "alpha", "s", "beta"), params, strict=True))
    p = np.array(params)
    u1, u2 = (
        by_every_pair(lambda a, u: _log_f(p, a, u), x, t_x),
        by_every_pair(lambda a, u: _log_f(p, a, u), x, big_t),
    )
    log_a0 = u1 + log1mexp(np.minimum(u2 - u1, 0.0))
    r, alpha, s, beta = p
    odds = np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + big_t) + s * np.log(beta + big_t) + log_a0
    np.testing.assert_allclose(
        model.conditional_probability_alive(x, t_x, big_t), special.expit(-odds), rtol=1e-13
    )


def test_horizon_purchase_days_equal_a_second_split(cdnow_transactions):
    tx = cdnow_transactions
    for horizon_end in ("1997-10-01", "1997-12-29", "1998-06-30"):
        split = calibration_holdout_split(
            tx.customer_ids, tx.dates, tx.amounts, calibration_end="1997-09-30", observation_end=horizon_end
        )
        fast = purchase_days_between(
            tx.customer_ids,
            tx.dates,
            among=split.calibration.customer_ids,
            after="1997-09-30",
            until=horizon_end,
        )
        np.testing.assert_array_equal(fast, split.frequency_holdout)
        assert fast.sum() > 0
