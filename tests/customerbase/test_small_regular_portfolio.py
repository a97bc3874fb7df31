"""A dozen customers who buy like clockwork (every three months, one to three times): Pareto/NBD's
likelihood then pushes its parameters far out (r and alpha in the thousands and millions), where the
hypergeometric series needs up to millions of terms for one customer. That series was summed with a
Python step per term, so a refresh of this portfolio ran for many minutes (found by a browser test of
the home page on a small demo). It is now summed by numpy in one pass: the same products in the same
order, and the fit ends."""

from __future__ import annotations

import datetime as dt

import numpy as np

from customerbase import summary_from_transactions
from customerbase._special import _accumulate_rows
from customerbase.paretonbd import ParetoNBD


def test_a_one_column_table_is_accumulated_exactly_as_row_by_row():
    rng = np.random.default_rng(3)
    for column in (rng.uniform(0.5, 1.0, size=(5000, 1)), rng.uniform(0.5, 1.0, size=5000)):
        expected = column.copy()
        for k in range(1, expected.shape[0]):
            expected[k] = expected[k - 1] * expected[k]
        assert np.array_equal(_accumulate_rows(np.multiply, column.copy()), expected)
    table = rng.uniform(0.5, 1.0, size=(300, 4))  # several columns: still row by row
    expected = table.copy()
    for k in range(1, expected.shape[0]):
        expected[k] = expected[k - 1] * expected[k]
    assert np.array_equal(_accumulate_rows(np.multiply, table.copy()), expected)


def test_pareto_nbd_fits_a_small_portfolio_of_clockwork_buyers():
    ids, days = [], []
    for i in range(12):
        for k in range(1 + i % 3):
            ids.append(i)
            days.append(np.datetime64(dt.date(2026, 1 + 3 * k, 1 + i)))
    summary = summary_from_transactions(ids, days, observation_end=np.datetime64("2026-11-03"))
    model = ParetoNBD().fit(summary.frequency, summary.recency, summary.T)
    assert all(np.isfinite(value) and value > 0 for value in model.params_.values())
    alive = model.conditional_probability_alive(summary.frequency, summary.recency, summary.T)
    assert np.all((alive >= 0) & (alive <= 1))
