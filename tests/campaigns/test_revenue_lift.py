"""The revenue lift's bootstrap that draws only the recipients who spent gives the interval of the
plain bootstrap that resamples everyone (``customerbase.lift``): the same estimate, and bounds equal
up to the bootstrap's own noise."""

from __future__ import annotations

import numpy as np
import pytest

from cartera.campaigns.selectors import revenue_lift
from customerbase.lift import bootstrap_mean_difference


def _group(rng, n, share, mean):
    values = np.zeros(n)
    spenders = rng.choice(n, size=int(n * share), replace=False)
    values[spenders] = rng.gamma(2.0, mean / 2, size=spenders.size).round(2)
    return values.tolist()


@pytest.mark.parametrize(
    ("n_treated", "n_control", "share_t", "share_c"),
    [(20_000, 2_000, 0.08, 0.05), (5_000, 600, 0.02, 0.02), (3_000, 300, 0.6, 0.5), (1_000, 100, 0.0, 0.03)],
)
def test_the_sparse_bootstrap_agrees_with_the_plain_one(settings, n_treated, n_control, share_t, share_c):
    rng = np.random.default_rng(7)
    treated, control = _group(rng, n_treated, share_t, 60), _group(rng, n_control, share_c, 50)
    settings.CARTERA_BULK_PLAIN = False
    fast = revenue_lift(treated, control, seed=3)
    settings.CARTERA_BULK_PLAIN = True
    plain = revenue_lift(treated, control, seed=3)
    assert plain == bootstrap_mean_difference(treated, control, seed=3)
    assert fast.estimate == pytest.approx(plain.estimate, abs=1e-12)
    width = plain.high - plain.low
    assert width > 0
    assert fast.low == pytest.approx(plain.low, abs=0.08 * width)
    assert fast.high == pytest.approx(plain.high, abs=0.08 * width)
    settings.CARTERA_BULK_PLAIN = False
    assert revenue_lift(treated, control, seed=3) == fast  # seeded: the same data, the same interval


def test_nobody_spent():
    interval = revenue_lift([0.0] * 500, [0.0] * 50, seed=1)
    assert (interval.estimate, interval.low, interval.high) == (0.0, 0.0, 0.0)
