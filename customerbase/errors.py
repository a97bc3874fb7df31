"""Exceptions raised by :mod:`customerbase`.

The probabilistic models (BG/NBD, Fader, Hardie & Lee 2005; Pareto/NBD, Schmittlein, Morrison &
Colombo 1987; Gamma-Gamma, Fader, Hardie & Lee 2005) need a minimum amount of information to be
estimated. When the data cannot identify them, :class:`NotEnoughDataError` is raised so that the caller
can fall back to simple rules (RFM scores, lifecycle thresholds).
"""

from __future__ import annotations

__all__ = ["ConvergenceError", "CustomerBaseError", "NotEnoughDataError", "NotFittedError"]


class CustomerBaseError(Exception):
    """Base class of every error raised on purpose by :mod:`customerbase`.

    The package implements the customer-base models of Fader, Hardie & Lee (2005) and Schmittlein,
    Morrison & Colombo (1987); see ``docs/analytics.md``.
    """


class NotEnoughDataError(CustomerBaseError, ValueError):
    """The data are too small or too uniform to fit a model.

    Raised, for example, when fewer than three distinct ``(x, t_x, T)`` rows are given or when no
    customer made a repeat purchase: the maximum-likelihood estimators of Fader, Hardie & Lee (2005)
    are then not identified. Callers are expected to fall back to rule-based analysis.
    """


class ConvergenceError(CustomerBaseError, RuntimeError):
    """The likelihood optimiser did not reach a finite optimum.

    The models are fitted by maximum likelihood (Fader, Hardie & Lee 2005); this error is raised only
    when the optimiser ends on a non-finite log-likelihood, never for a merely slow convergence (which
    emits a :class:`RuntimeWarning` instead).
    """


class NotFittedError(CustomerBaseError, RuntimeError):
    """A model was asked for a prediction or a summary before :meth:`fit` (scikit-learn's contract).

    Every estimator of :mod:`customerbase` raises it from the methods that need fitted parameters;
    it is a :class:`RuntimeError`, as the "not fitted yet" error was before it had its own class.
    """
