"""Customer lifetime value from a transaction model and a spend model.

Follows Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves for customer base
analysis", *Journal of Marketing Research* 42(4): CLV = expected number of future transactions x
expected value per transaction, discounted. As in the ``lifetimes`` library, the horizon is cut in
monthly steps: the expected purchases of month ``i`` (difference of the cumulative conditional
expectation) times the expected spend, discounted by ``(1 + discount_rate) ** i`` (a monthly rate).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

import numpy as np

from customerbase._base import as_float
from customerbase._types import ArrayLike, FloatArray

if TYPE_CHECKING:
    from customerbase.gammagamma import GammaGamma

__all__ = ["DAYS_PER_MONTH", "SupportsConditionalPurchases", "customer_lifetime_value"]

#: Mean length of a month in days (365.25 / 12).
DAYS_PER_MONTH = 365.25 / 12.0


class SupportsConditionalPurchases(Protocol):
    """A fitted transaction model (BG/NBD, MBG/NBD, Pareto/NBD; Fader, Hardie & Lee 2005)."""

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> FloatArray:
        """E[purchases in (T, T + t] | x, t_x, T]."""
        ...


def customer_lifetime_value(
    transaction_model: SupportsConditionalPurchases,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    mean_value: ArrayLike,
    *,
    spend_model: GammaGamma | None = None,
    horizon_months: int = 12,
    discount_rate: float = 0.01,
    freq_days: float = 7.0,
    days_per_month: float = DAYS_PER_MONTH,
) -> FloatArray:
    """Discounted expected value of each customer over the next ``horizon_months`` months.

    CLV as in Fader, Hardie & Lee (2005, *JMR* 42(4)), computed like the ``lifetimes`` library:
    ``sum_{i=1..H} value * (E[Y(i m)] - E[Y((i-1) m)]) / (1 + discount_rate)^i`` with ``m`` a month in
    model time units (``days_per_month / freq_days``; ``freq_days`` is the unit of ``recency`` and
    ``T``, 7 for weeks). ``value`` is ``spend_model.conditional_expected_average_profit(frequency,
    mean_value)`` when a Gamma-Gamma ``spend_model`` is given, else ``mean_value`` itself (the value
    per future transaction). ``discount_rate`` is per month.
    """
    if horizon_months < 0:
        raise ValueError("horizon_months must be non-negative")
    if discount_rate <= -1.0:
        raise ValueError("discount_rate must be greater than -1")
    if freq_days <= 0 or days_per_month <= 0:
        raise ValueError("freq_days and days_per_month must be positive")
    x = as_float(frequency, "frequency")
    if spend_model is not None:
        value = spend_model.conditional_expected_average_profit(x, mean_value)
    else:
        value = as_float(mean_value, "mean_value")
    month = days_per_month / freq_days
    total = np.zeros(np.broadcast_shapes(x.shape, value.shape))
    previous = np.zeros_like(total)
    # Models that can give every monthly horizon at once (BG/NBD: P(alive) once, the hypergeometric
    # tail per distinct (x, T)) do so; the sum below is the same either way.
    grid = getattr(transaction_model, "_expected_purchases_grid", None)
    months = range(1, horizon_months + 1)
    if grid is not None and horizon_months:
        cumulatives: Iterator[FloatArray] = grid(np.array([i * month for i in months]), x, recency, T)
    else:
        cumulatives = (
            transaction_model.conditional_expected_number_of_purchases_up_to_time(i * month, x, recency, T)
            for i in months
        )
    for i, cumulative in zip(months, cumulatives, strict=True):
        total = total + value * (cumulative - previous) / (1.0 + discount_rate) ** i
        previous = cumulative
    return np.asarray(total, dtype=np.float64)
