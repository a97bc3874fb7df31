"""How much a prospect looks like the customers who bring the revenue: a categorical naive Bayes.

The classes are "top customer" (the customers making the top share of revenue, by default the top
20 %) and "the rest". Each attribute (sector, region, company size, source, age band...) is a
categorical feature; for each of its values the model keeps the log-likelihood ratio

    w(value) = log P(value | top) - log P(value | rest)

with Laplace (add-``alpha``) smoothing (Manning, Raghavan & Schütze 2008, *Introduction to Information
Retrieval*, ch. 13; Hand & Yu 2001, "Idiot's Bayes — not so stupid after all?", *International
Statistical Review* 69(3)). A prospect's evidence is the sum of the ratios of its known values, so each
attribute's part of the score can be read on its own: that is the "why". The score is that evidence
on a balanced prior, ``100 * sigmoid(sum w)``: 50 means "no more like the top customers than like the
rest", towards 100 "very like them". An unknown value (empty) adds nothing; neither does a value the
model never saw.

scikit-learn's estimator rules: ``__init__`` stores settings, :meth:`ProspectFit.fit` returns the
model, fitted values end in ``_``; tables (2-D arrays of strings) in, arrays out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from customerbase._base import Estimator
from customerbase.errors import NotEnoughDataError

__all__ = ["Contribution", "ProspectFit", "closest_group", "top_share_labels"]


def top_share_labels(revenue: ArrayLike, share: float = 0.2) -> NDArray[np.bool_]:
    """Which customers are in the top ``share`` by revenue (at least one; ties broken by position)."""
    values = np.asarray(revenue, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("revenue must be a non-empty 1-D array")
    if not 0 < share < 1:
        raise ValueError("share must be between 0 and 1")
    count = max(1, int(np.ceil(share * values.size)))
    order = np.argsort(-values, kind="stable")
    labels = np.zeros(values.size, dtype=bool)
    labels[order[:count]] = True
    return labels


def _factorise(column: NDArray[np.str_]) -> tuple[NDArray[np.str_], NDArray[np.intp]]:
    """The distinct values of a column of strings (in order of first appearance) and each row's index
    into them. A dictionary pass: a column has few distinct values (sectors, regions, age bands), and
    hashing each row once is several times faster than sorting a million strings as ``np.unique``
    does."""
    seen: dict[str, int] = {}
    values = column.tolist()
    codes = np.fromiter((seen.setdefault(v, len(seen)) for v in values), dtype=np.intp, count=len(values))
    return np.array(list(seen), dtype=column.dtype), codes


@dataclass(frozen=True)
class Contribution:
    """One attribute's part of a score: its value and log-likelihood ratio (positive: like the top)."""

    feature: str
    value: str
    weight: float


class ProspectFit(Estimator):
    """Categorical naive Bayes of "top customer" against "the rest", explained attribute by attribute.

    ``alpha`` is the Laplace smoothing count; ``min_top`` and ``min_rest`` the fewest customers of each
    class needed to fit (fewer raise :class:`NotEnoughDataError`).
    """

    def __init__(self, *, alpha: float = 1.0, min_top: int = 5, min_rest: int = 5) -> None:
        self.alpha = alpha
        self.min_top = min_top
        self.min_rest = min_rest

    @staticmethod
    def _table(X: ArrayLike) -> NDArray[np.str_]:
        table = np.asarray(X, dtype=str)
        if table.ndim != 2:
            raise ValueError("X must be a 2-D table: one row per customer, one column per attribute")
        return table

    def fit(self, X: ArrayLike, y: ArrayLike, feature_names: Sequence[str] | None = None) -> ProspectFit:
        """Learn each value's log-likelihood ratio from customers ``X`` labelled ``y`` (True = top)."""
        table = self._table(X)
        labels = np.asarray(y, dtype=bool)
        if labels.shape != (table.shape[0],):
            raise ValueError("y must have one label per row of X")
        n_top, n_rest = int(labels.sum()), int((~labels).sum())
        if n_top < self.min_top or n_rest < self.min_rest:
            raise NotEnoughDataError(
                f"need at least {self.min_top} top and {self.min_rest} other customers (got {n_top} and {n_rest})"
            )
        names = list(feature_names) if feature_names is not None else [f"x{j}" for j in range(table.shape[1])]
        if len(names) != table.shape[1]:
            raise ValueError("feature_names must name every column of X")
        weights: list[dict[str, float]] = []
        for j in range(table.shape[1]):
            # Each value counted in one pass over the column (np.unique's codes, then bincount),
            # not one comparison of the whole column per value.
            values, codes = _factorise(table[:, j])
            in_top = np.bincount(codes[labels], minlength=values.size)
            in_rest = np.bincount(codes[~labels], minlength=values.size)
            known = values != ""
            values, in_top, in_rest = values[known], in_top[known], in_rest[known]
            total_top = in_top.sum() + self.alpha * values.size
            total_rest = in_rest.sum() + self.alpha * values.size
            ratios = np.log((in_top + self.alpha) / total_top) - np.log((in_rest + self.alpha) / total_rest)
            weights.append(dict(zip(values.tolist(), ratios.tolist(), strict=True)))
        self.feature_names_ = names
        self.log_ratios_ = weights
        self.base_rate_ = n_top / (n_top + n_rest)
        return self

    def _contributions(self, table: NDArray[np.str_]) -> NDArray[np.float64]:
        self._check_is_fitted()
        if table.shape[1] != len(self.log_ratios_):
            raise ValueError("X must have the columns the model was fitted on")
        out = np.zeros(table.shape, dtype=float)
        for j, ratio in enumerate(self.log_ratios_):
            # Each distinct value looked up once, then spread back: a list of 100,000 rows has a few
            # dozen sectors, so this is array work, not a dictionary look-up per row.
            distinct, codes = _factorise(table[:, j])
            weights = np.fromiter(
                (ratio.get(value, 0.0) for value in distinct.tolist()), dtype=float, count=distinct.size
            )
            out[:, j] = weights[codes]
        return out

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """The evidence of each row: the sum of its values' log-likelihood ratios (0 = no evidence)."""
        return self._contributions(self._table(X)).sum(axis=1)

    def predict_proba(self, X: ArrayLike) -> NDArray[np.float64]:
        """The probability of being a top customer, with the base rate of the training data as prior."""
        evidence = self.decision_function(X)
        prior = float(np.log(self.base_rate_ / (1 - self.base_rate_)))
        proba: NDArray[np.float64] = 1 / (1 + np.exp(-(evidence + prior)))
        return proba

    def score(self, X: ArrayLike) -> NDArray[np.float64]:
        """The fit score 0-100 on a balanced prior: 50 is "as like the rest as like the top"."""
        return 100 / (1 + np.exp(-self.decision_function(X)))

    def explain(self, X: ArrayLike, top: int = 3) -> list[list[Contribution]]:
        """For each row, its ``top`` attributes that make it most like the top customers (positive
        weights only, largest first)."""
        table = self._table(X)
        parts = self._contributions(table)
        # The whole table sorted at once (row by row, largest part first, ties by column), then only
        # the kept parts become Python objects.
        order = np.argsort(-parts, axis=1, kind="stable")[:, :top]
        kept = np.take_along_axis(parts, order, axis=1)
        values = np.take_along_axis(table, order, axis=1)
        names = self.feature_names_
        return [
            [
                Contribution(names[j], value, weight)
                for j, value, weight in zip(row_order, row_values, row_parts, strict=True)
                if weight > 0
            ]
            for row_order, row_values, row_parts in zip(
                order.tolist(), values.tolist(), kept.tolist(), strict=True
            )
        ]


def closest_group(models: Sequence[ProspectFit], X: ArrayLike) -> NDArray[np.intp]:
    """For each row of ``X``, the index of the model (each one learnt as "this group against everyone
    else", e.g. the members of a persona) whose group the row looks most like: the largest evidence,
    if it is positive (more like the group than like the rest); -1 when no model finds any, or when
    there are no models. Ties go to the first model."""
    table = ProspectFit._table(X)
    if not models:
        return np.full(table.shape[0], -1, dtype=np.intp)
    evidence = np.column_stack([model.decision_function(table) for model in models])
    best = np.argmax(evidence, axis=1).astype(np.intp)
    best[np.take_along_axis(evidence, best[:, None], axis=1)[:, 0] <= 0] = -1
    return best
