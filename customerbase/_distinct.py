"""Evaluate an element-wise function once per distinct input and spread the values back.

The expensive pieces of the predictions (Gauss hypergeometric functions of the Pareto/NBD) depend on
two numbers per customer, ``(x, t_x)`` or ``(x, T)``, whose distinct pairs are few: a million
simulated customers with histories measured in days share under 9,000 of each. Evaluating the
function on those pairs and indexing back gives the same values (the function is element-wise) for
a hundredth of the work.

:func:`by_distinct_pairs` is the fast path and :func:`by_every_pair` its plain twin (the function on
every element); ``tests/customerbase/test_distinct.py`` checks they agree.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from customerbase._types import FloatArray

__all__ = ["by_distinct_pairs", "by_every_pair"]

PairFunction = Callable[[FloatArray, FloatArray], FloatArray]

#: Below this many elements the sort that finds the distinct pairs costs more than it saves.
MIN_ELEMENTS = 2_048


def by_every_pair(func: PairFunction, a: FloatArray, b: FloatArray) -> FloatArray:
    """``func(a, b)``: the plain twin of :func:`by_distinct_pairs`."""
    return np.asarray(func(a, b), dtype=np.float64)


def by_distinct_pairs(func: PairFunction, a: FloatArray, b: FloatArray) -> FloatArray:
    """``func(a, b)`` for an element-wise ``func``, evaluated once per distinct ``(a, b)`` pair.

    ``a`` and ``b`` are broadcast to one shape; inputs that are not 1-D or have fewer than
    :data:`MIN_ELEMENTS` elements are passed straight to ``func``. The distinct pairs come from one
    ``lexsort`` and a change mask (``np.unique(axis=0)`` takes a slower structured-array path).
    """
    a_arr, b_arr = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    if a_arr.ndim != 1 or a_arr.shape[0] < MIN_ELEMENTS:
        return by_every_pair(func, a_arr, b_arr)
    order = np.lexsort((b_arr, a_arr))
    a_sorted, b_sorted = a_arr[order], b_arr[order]
    starts = np.empty(a_sorted.shape[0], dtype=bool)
    starts[0] = True
    np.not_equal(a_sorted[1:], a_sorted[:-1], out=starts[1:])
    starts[1:] |= b_sorted[1:] != b_sorted[:-1]
    values = np.asarray(func(a_sorted[starts], b_sorted[starts]), dtype=np.float64)
    out = np.empty(a_arr.shape[0], dtype=np.float64)
    out[order] = values[np.cumsum(starts) - 1]
    return out
