"""customerbase: customer-base analytics in numpy/scipy.

Probabilistic "buy till you die" models and simple rules to read a customer base:

* :mod:`customerbase.rfm`: RFM summaries of transaction logs, calibration/holdout split, RFM scores and
  segments (Fader, Hardie & Lee 2005, *Marketing Science* 24(2) and *JMR* 42(4));
* :mod:`customerbase.bgnbd`: BG/NBD (Fader, Hardie & Lee 2005);
* :mod:`customerbase.paretonbd`: Pareto/NBD (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005);
* :mod:`customerbase.mbgnbd`: MBG/NBD (Batislam, Denizel & Filiztekin 2007);
* :mod:`customerbase.gammagamma`: Gamma-Gamma spend model (Fader, Hardie & Lee 2005, *JMR*);
* :mod:`customerbase.clv`: discounted customer lifetime value;
* :mod:`customerbase.abc`: ABC/Pareto classes of revenue;
* :mod:`customerbase.backtest`: calibrate up to a cut-off, predict the following period, compare
  (totals, AUC, calibration, return rate of each status);
* :mod:`customerbase.lifecycle` and :mod:`customerbase.decline`: lifecycle status with reasons and
  detection of falling purchase rates;
* :mod:`customerbase.fit`: how much a prospect looks like the top customers by revenue (categorical
  naive Bayes with per-attribute reasons);
* :mod:`customerbase.lift`: lift of a treatment over a control group (Newcombe/Wilson intervals for
  rates, bootstrap for means).

The package depends on numpy and scipy only (never on Django or the Cartera app).
"""

from customerbase.abc import ABCResult, abc_classes, revenue_share_of_top
from customerbase.backtest import Backtest, BacktestReport, HoldoutData, ModelCheck, holdout_data
from customerbase.bgnbd import BGNBD
from customerbase.clv import customer_lifetime_value
from customerbase.decline import DeclineResult, detect_decline
from customerbase.errors import ConvergenceError, CustomerBaseError, NotEnoughDataError, NotFittedError
from customerbase.fit import Contribution, ProspectFit, top_share_labels
from customerbase.gammagamma import GammaGamma, frequency_spend_correlation
from customerbase.lifecycle import (
    LifecycleResult,
    LifecycleStatus,
    LifecycleThresholds,
    Reason,
    ReasonCode,
    classify_lifecycle,
    describe_reason,
)
from customerbase.mbgnbd import MBGNBD
from customerbase.paretonbd import ParetoNBD
from customerbase.rfm import (
    SEGMENTS,
    CalibrationHoldout,
    CompressedRFM,
    RFMScores,
    RFMSummary,
    calibration_holdout_split,
    compress_rfm,
    rfm_scores,
    rfm_segment,
    summary_from_transactions,
)

__all__ = [
    "BGNBD",
    "MBGNBD",
    "ModelCheck",
    "SEGMENTS",
    "ABCResult",
    "Backtest",
    "BacktestReport",
    "CalibrationHoldout",
    "CompressedRFM",
    "Contribution",
    "ConvergenceError",
    "CustomerBaseError",
    "DeclineResult",
    "GammaGamma",
    "HoldoutData",
    "LifecycleResult",
    "LifecycleStatus",
    "LifecycleThresholds",
    "NotEnoughDataError",
    "NotFittedError",
    "ParetoNBD",
    "ProspectFit",
    "RFMScores",
    "RFMSummary",
    "Reason",
    "ReasonCode",
    "abc_classes",
    "calibration_holdout_split",
    "classify_lifecycle",
    "compress_rfm",
    "customer_lifetime_value",
    "describe_reason",
    "detect_decline",
    "frequency_spend_correlation",
    "holdout_data",
    "revenue_share_of_top",
    "rfm_scores",
    "rfm_segment",
    "summary_from_transactions",
    "top_share_labels",
]
