"""Numerically stable special-function pieces of the BG/NBD, MBG/NBD and Pareto/NBD expressions.

References: Fader, Hardie & Lee (2005), "Counting your customers the easy way", *Marketing Science*
24(2); Fader & Hardie (2005), "A note on deriving the Pareto/NBD model and related expressions";
Abramowitz & Stegun 15.3.3 (Euler's transformation of the Gauss hypergeometric function).
"""

from __future__ import annotations

import numpy as np
from scipy import special  # type: ignore[import-untyped,unused-ignore]

from customerbase._types import FloatArray

__all__ = ["beta_geo_tail", "log_hyp2f1_c_a1", "pow_tail"]

_A_NEAR_ONE = 1e-4


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
    inner = special.hyp2f1(1.0, a_arr + 1.0 - b_arr, a_arr + 1.0, z)
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


def hyp2f1_c_a1_series(
    c: FloatArray | float, big_n: FloatArray, z: FloatArray, *, tol: float = 1e-17, max_terms: int = 2000
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``G = 2F1(1, c; N; z)`` and its derivatives, by its series, for ``0 < c < N`` and ``0 <= z < 1``.

    ``G = sum_k t_k`` with ``t_0 = 1``, ``t_{k+1} = t_k (c+k)/(N+k) z``: positive terms with ratio
    below ``z`` (this is the Euler-transformed series of :func:`log_hyp2f1_c_a1`, with ``c = a+1-b``
    and ``N = a+1``). Returns ``(G, dG/dc, dG/dN, dG/dz)``, summed term by term (``d t_k/dc = t_k
    sum_{j<k} 1/(c+j)``, ``d t_k/dN = -t_k sum_{j<k} 1/(N+j)``, ``d t_k/dz = k t_k / z``); the analytic
    gradient of the Pareto/NBD likelihood needs them. Stops when the next terms cannot change any sum
    by more than ``tol`` relative (the tail is at most ``t_k z / (1 - z)``); meant for ``z`` up to about
    0.9 (a few hundred terms), larger ``z`` needs ``log_hyp2f1_c_a1``.
    """
    z = np.asarray(z, dtype=np.float64)
    big_n = np.asarray(big_n, dtype=np.float64)
    c_arr = np.asarray(c, dtype=np.float64)
    shape = np.broadcast_shapes(z.shape, big_n.shape, c_arr.shape)
    g = np.ones(shape)
    g_c = np.zeros(shape)
    g_n = np.zeros(shape)
    g_z = np.zeros(shape)
    term = np.ones(shape)
    p_sum = np.zeros(shape)
    q_sum = np.zeros(shape)
    if shape == (0,) or not shape or z.size == 0:
        return g, g_c, g_n, g_z
    inv_tail = 1.0 / (1.0 - z)
    for k in range(1, max_terms + 1):
        ck = c_arr + (k - 1)
        nk = big_n + (k - 1)
        # e = t_k / z, so that dt_k/dz = k e stays finite at z = 0.
        e = term * ck
        e /= nk
        p_sum += 1.0 / ck
        q_sum += 1.0 / nk
        g_z += k * e
        term = e * z
        g += term
        g_c += term * p_sum
        g_n -= term * q_sum
        if k % 4 == 0 and float(np.max(term * inv_tail / g)) < tol:
            break
    return g, g_c, g_n, g_z
