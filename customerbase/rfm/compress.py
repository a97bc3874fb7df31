"""Identical ``(x, t_x, T)`` rows grouped with their multiplicity (Fader, Hardie & Lee 2005).

The likelihoods of the transaction models depend on a customer only through ``(x, t_x, T)``: the
fits evaluate each distinct row once, weighted by how many customers share it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from customerbase._types import ArrayLike, FloatArray, IntArray

__all__ = ["CompressedRFM", "compress_rfm"]


@dataclass(frozen=True)
class CompressedRFM:
    """Unique ``(x, t_x, T)`` rows with their multiplicity.

    The likelihoods of the BG/NBD (Fader, Hardie & Lee 2005) and Pareto/NBD (Schmittlein, Morrison &
    Colombo 1987) depend on a customer only through ``(x, t_x, T)``, so each distinct row is evaluated
    once and weighted. ``inverse`` maps every original customer to its row:
    ``x[inverse]`` gives back the original frequencies.
    """

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weights: FloatArray
    inverse: IntArray

    def __len__(self) -> int:
        """Number of distinct rows."""
        return int(self.x.shape[0])


def compress_rfm(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None
) -> CompressedRFM:
    """Group identical ``(x, t_x, T)`` rows and sum their weights.

    The sufficient statistics of Fader, Hardie & Lee (2005) are ``(x, t_x, T)``; fitting on unique rows
    with a weight gives the same likelihood as fitting on all customers, much faster.
    """
    x = np.asarray(frequency, dtype=np.float64).ravel()
    t_x = np.asarray(recency, dtype=np.float64).ravel()
    t = np.asarray(T, dtype=np.float64).ravel()
    n = x.shape[0]
    if t_x.shape[0] != n or t.shape[0] != n:
        raise ValueError("frequency, recency and T must have the same length")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape[0] != n:
        raise ValueError("weights must have the same length as frequency")
    if n == 0:
        empty = np.empty(0)
        return CompressedRFM(empty, empty, empty, empty, np.empty(0, dtype=np.int64))
    # One integer key per row (the ranks of x, t_x and T among their distinct values, x major):
    # sorting it orders the rows exactly like lexsort((T, t_x, x)), at a fraction of the cost (the
    # columns usually have few distinct values, and an integer argsort is fast).
    ranks = []
    sizes = []
    for col in (x, t_x, t):
        values = np.unique(col)
        ranks.append(np.searchsorted(values, col))
        sizes.append(int(values.shape[0]))
    if sizes[0] * sizes[1] * sizes[2] < 2**62:
        key = ranks[0].astype(np.int64)
        key *= sizes[1]
        key += ranks[1]
        key *= sizes[2]
        key += ranks[2]
        order = np.argsort(key)
        ks = key[order]
        new = np.empty(n, dtype=bool)
        new[0] = True
        np.not_equal(ks[1:], ks[:-1], out=new[1:])
    else:
        order = np.lexsort((t, t_x, x))
        xs, ts, tt = x[order], t_x[order], t[order]
        new = np.empty(n, dtype=bool)
        new[0] = True
        new[1:] = (xs[1:] != xs[:-1]) | (ts[1:] != ts[:-1]) | (tt[1:] != tt[:-1])
    group = np.cumsum(new) - 1
    inverse = np.empty(n, dtype=np.int64)
    inverse[order] = group
    first = order[np.flatnonzero(new)]
    weights_out = np.bincount(inverse, weights=w, minlength=first.shape[0]).astype(np.float64)
    return CompressedRFM(x[first], t_x[first], t[first], weights_out, inverse)
