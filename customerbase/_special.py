"""Numerically stable special-function pieces of the BG/NBD, MBG/NBD and Pareto/NBD expressions.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way", *Marketing Science*
24(2); Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions";
Abramowitz & Stegun 15.3.3 (Euler's transformation of the Gauss hypergeometric function).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._types import FloatArray

__all__ = ["beta_geo_tail", "log_hyp2f1_c_a1", "pow_tail"]

_A_NEAR_ONE = 1e-4
#: Total series terms :func:`log_hyp2f1_c_a1` may spend where scipy's ``hyp2f1`` gives NaN.
_FALLBACK_TERMS = 2e6


def log_hyp2f1_c_a1(a: FloatArray | float, b: FloatArray | float, z: FloatArray) -> FloatArray:
    """``log 2F1(a, b; a + 1; z)`` for ``a, b > 0`` and ``0 <= z < 1``.

    This is the form appearing in the Pareto/NBD likelihood (Fader & Hardie 2005 note, eq. for
    ``A_0``). Euler's transformation (Abramowitz & Stegun 15.3.3) gives
    ``2F1(a, b; a+1; z) = (1-z)^(1-b) 2F1(1, a+1-b; a+1; z)``, whose series has positive terms with
    ratio below ``z``: its value lies in ``[1, 1/(1-z)]`` whatever the size of ``a`` (large ``x``),
    so it neither overflows nor loses precision, and the power is taken in log space.
    """
    z = np.asarray(z, dtype=np.float64)
    a_arr = np.asarray(a, dtype=np.float64)
    b_arr = np.asarray(b, dtype=np.float64)
    inner = np.asarray(special.hyp2f1(1.0, a_arr + 1.0 - b_arr, a_arr + 1.0, z), dtype=np.float64)
    bad = ~(inner >= 1.0) & (z < 1.0)
    if bad.any():
        # scipy's hyp2f1 returns NaN for some large third parameters with z above 0.9 (e.g.
        # 2F1(1, 1.3; 203.3; 0.96)); the positive series still converges there, slowly (about
        # 37 / (1 - z) terms). Those elements get it within a budget of terms; beyond it (z very
        # close to 1 for many elements) they stay NaN, which the fits treat as out of bounds.
        inner = inner.copy()
        idx = np.nonzero(bad)
        c_bad = np.broadcast_to(a_arr + 1.0 - b_arr, inner.shape)[idx]
        n_bad = np.broadcast_to(a_arr + 1.0, inner.shape)[idx]
        z_bad = np.broadcast_to(z, inner.shape)[idx]
        need = np.ceil(np.log(1e-17 * (1.0 - z_bad)) / np.log(np.maximum(z_bad, 1e-300))) + 1
        if float(need.sum()) <= _FALLBACK_TERMS:
            values = np.empty(z_bad.shape[0])
            for j in range(z_bad.shape[0]):
                g = hyp2f1_c_a1_series(
                    float(c_bad[j]), n_bad[j : j + 1], z_bad[j : j + 1], max_terms=int(need[j])
                )
                values[j] = g[0][0]
            inner[idx] = values
    return np.asarray((1.0 - b_arr) * np.log1p(-z) + np.log(inner), dtype=np.float64)


def pow_tail(k: float, log_ratio: FloatArray) -> FloatArray:
    """``(1 - exp(-k L)) / k`` with its limit ``L`` at ``k = 0``.

    Used for ``[1 - ((beta+T)/(beta+T+t))^(s-1)] / (s-1)`` in the Pareto/NBD expectations
    (Schmittlein, Morrison & Colombo 1987), stable for ``s`` near 1.
    """
    log_ratio = np.asarray(log_ratio, dtype=np.float64)
    if abs(k) < 1e-10:
        return log_ratio.copy()
    return np.asarray(-np.expm1(-k * log_ratio) / k, dtype=np.float64)


def _raw_tail(a: float, p_off: float, c_off: FloatArray, z: FloatArray) -> FloatArray:
    am1 = a - 1.0
    prod = np.exp(am1 * np.log1p(-z)) * special.hyp2f1(a + p_off, am1, a + c_off, z)
    return np.asarray((1.0 - prod) / am1, dtype=np.float64)


def beta_geo_tail(a: float, p_off: float, c_off: FloatArray, z: FloatArray) -> FloatArray:
    """``[1 - (1-z)^(a-1) 2F1(a + p_off, a - 1; a + c_off; z)] / (a - 1)``.

    The BG/NBD expectations of Fader, Hardie & Lee (2005, eqs. 9 and 10) contain
    ``1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)``; Euler's transformation turns
    ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z)`` into ``(1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``,
    whose parameters no longer grow with ``x`` (no overflow for x = 200). Near ``a = 1`` the 0/0 is
    resolved by averaging both sides of the removable singularity.
    """
    z = np.asarray(z, dtype=np.float64)
    c_arr = np.asarray(c_off, dtype=np.float64)
    if abs(a - 1.0) < _A_NEAR_ONE:
        lo = _raw_tail(1.0 - _A_NEAR_ONE, p_off, c_arr, z)
        hi = _raw_tail(1.0 + _A_NEAR_ONE, p_off, c_arr, z)
        w = (a - (1.0 - _A_NEAR_ONE)) / (2.0 * _A_NEAR_ONE)
        return np.asarray((1.0 - w) * lo + w * hi, dtype=np.float64)
    return _raw_tail(a, p_off, c_arr, z)


#: Upper ends of the bands of z that get separate tables in :func:`hyp2f1_c_a1_series`.
_Z_BANDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def _accumulate_rows(op: np.ufunc, table: FloatArray) -> FloatArray:
    """``op.accumulate(table, axis=0)`` in place, one row at a time.

    numpy accumulates along the first axis column by column (strided); a loop over the few dozen
    rows with contiguous row operations is several times faster for these tables. A table of one
    column (the slow series of :func:`log_hyp2f1_c_a1`, up to millions of terms for one element) is
    accumulated by numpy at once: the same products in the same order, without a Python step per term.
    """
    if table.ndim == 1 or table.size == table.shape[0]:
        op.accumulate(table, axis=0, out=table)
        return table
    for k in range(1, table.shape[0]):
        op(table[k - 1], table[k], out=table[k])
    return table


def hyp2f1_c_a1_series(
    c: FloatArray | float, big_n: FloatArray, z: FloatArray, *, tol: float = 1e-16, max_terms: int = 2000
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``G = 2F1(1, c; N; z)`` and its derivatives, by its series, for ``0 < c < N`` and ``0 <= z < 1``.

    ``G = sum_k t_k`` with ``t_0 = 1``, ``t_{k+1} = t_k (c+k)/(N+k) z``: positive terms with ratio
    below ``z`` (this is the Euler-transformed series of :func:`log_hyp2f1_c_a1`, with ``c = a+1-b``
    and ``N = a+1``). Returns ``(G, dG/dc, dG/dN, dG/dz)``, summed term by term (``d t_k/dc = t_k
    sum_{j<k} 1/(c+j)``, ``d t_k/dN = -t_k sum_{j<k} 1/(N+j)``, ``d t_k/dz = k t_k / z``); the analytic
    gradient of the Pareto/NBD likelihood needs them. The number of terms ``K`` is set by the largest
    ``z`` so that the tail (at most ``t_K z / (1 - z)``, with ``t_K < z^K``) is below ``tol``; all
    terms are built at once as a ``K x n`` table (``cumprod`` of the ratios), which for the few
    dozen terms of typical inputs costs far less than a Python loop over ``k``. Meant for ``z`` up to
    about 0.9 (a few hundred terms); larger ``z`` needs ``log_hyp2f1_c_a1``.
    """
    z = np.asarray(z, dtype=np.float64)
    big_n = np.asarray(big_n, dtype=np.float64)
    c_arr = np.asarray(c, dtype=np.float64)
    shape = np.broadcast_shapes(z.shape, big_n.shape, c_arr.shape)
    z_max = float(z.max()) if z.size else 0.0
    z_min = float(z.min()) if z.size else 0.0
    if len(shape) == 1 and any(z_min <= edge < z_max for edge in _Z_BANDS):
        # The number of terms grows fast with z: elements with a small z should not pay for the
        # largest one, so each band of z gets its own table.
        zb, nb, cb = (np.broadcast_to(v, shape) for v in (z, big_n, c_arr))
        outs = [np.empty(shape) for _ in range(4)]
        lower = -1.0
        for upper in (*_Z_BANDS, math.inf):
            sel = np.flatnonzero((zb > lower) & (zb <= upper))
            lower = upper
            if sel.shape[0]:
                part = hyp2f1_c_a1_series(
                    cb[sel] if c_arr.ndim else c_arr, nb[sel], zb[sel], tol=tol, max_terms=max_terms
                )
                for out, values in zip(outs, part, strict=True):
                    out[sel] = values
        return outs[0], outs[1], outs[2], outs[3]
    if z_max <= 0.0:
        return np.ones(shape), np.zeros(shape), np.zeros(shape), np.broadcast_to(c_arr / big_n, shape).copy()
    n_terms = int(min(max_terms, math.ceil(math.log(tol * (1.0 - z_max)) / math.log(z_max)) + 1))
    # Row k of the tables is the step from term k to term k+1 (k = 0 .. K-1).
    k = np.arange(n_terms, dtype=np.float64).reshape(-1, *([1] * len(shape)))
    ck = c_arr + k
    nk = big_n + k
    step = ck / nk
    terms = _accumulate_rows(np.multiply, step * z)  # t_1 .. t_K
    g = 1.0 + terms.sum(axis=0)
    g_c = (terms * _accumulate_rows(np.add, 1.0 / ck)).sum(axis=0)
    g_n = -(terms * _accumulate_rows(np.add, 1.0 / nk)).sum(axis=0)
    # dG/dz = sum_j j t_j / z (j = k+1 here); its limit at z = 0 is the first ratio c/N.
    weighted = ((k + 1.0) * terms).sum(axis=0)
    positive = z > 0.0
    g_z = np.where(positive, weighted / np.where(positive, z, 1.0), step[0])
    return (
        np.broadcast_to(g, shape).copy(),
        np.broadcast_to(g_c, shape).copy(),
        np.broadcast_to(g_n, shape).copy(),
        np.broadcast_to(g_z, shape).copy(),
    )
