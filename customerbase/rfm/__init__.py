"""Recency-frequency-monetary summaries of a transaction log, and RFM scores and segments.

* :mod:`customerbase.rfm.summary`: the ``(x, t_x, T, zbar)`` summary of a transaction log
  (:func:`summary_from_transactions`) and the calibration/holdout split
  (:func:`calibration_holdout_split`), Fader, Hardie & Lee (2005);
* :mod:`customerbase.rfm.compress`: identical ``(x, t_x, T)`` rows grouped with a weight
  (:func:`compress_rfm`), what the model fits evaluate;
* :mod:`customerbase.rfm.scores`: quintile RFM scores and named segments (:func:`rfm_scores`,
  :func:`rfm_segment`);
* ``customerbase.rfm._passes``: the vectorised passes over the transactions (same-day purchases
  merged, chunked streaming) that the summaries and :mod:`customerbase.decline` share.

Every public name is importable from ``customerbase.rfm`` (and from ``customerbase``).
"""

from __future__ import annotations

from customerbase.rfm._passes import DateLike
from customerbase.rfm.compress import CompressedRFM, compress_rfm
from customerbase.rfm.scores import RFM_SEGMENT_GRID, SEGMENTS, RFMScores, rfm_scores, rfm_segment
from customerbase.rfm.summary import (
    CalibrationHoldout,
    RFMSummary,
    calibration_holdout_split,
    purchase_days_between,
    summary_from_transactions,
)

__all__ = [
    "RFM_SEGMENT_GRID",
    "SEGMENTS",
    "CalibrationHoldout",
    "CompressedRFM",
    "DateLike",
    "RFMScores",
    "RFMSummary",
    "calibration_holdout_split",
    "compress_rfm",
    "purchase_days_between",
    "rfm_scores",
    "rfm_segment",
    "summary_from_transactions",
]
