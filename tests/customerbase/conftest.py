"""Fixtures for the customerbase tests: the CDNOW sample (Fader, Hardie & Lee 2005) and fitted models."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
# This folder is also named ``customerbase``; with rootdir-based imports (and an editable install that
# may list ``customerbase`` as a namespace package) the real package must be found first.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from customerbase import (  # noqa: E402
    BGNBD,
    MBGNBD,
    GammaGamma,
    ParetoNBD,
    RFMSummary,
    summary_from_transactions,
)

CDNOW_DIR = REPO_ROOT / "tests" / "data" / "cdnow"
# End of week 39 counted from 1997-01-01: the calibration period of Fader, Hardie & Lee (2005).
CDNOW_CALIBRATION_END = "1997-09-30"
CDNOW_END = "1998-06-30"

# The CDNOW data and the models fitted on them are built once per session and shared by every test
# that reads them; their arrays are made read-only so that no test can change what the next one sees.


def _read_only(obj):
    for value in vars(obj).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return obj


@pytest.fixture(autouse=True)
def _plain_http() -> Iterator[None]:
    """Shadow the Django-only autouse fixture of tests/conftest.py: these tests never touch Django."""
    yield


@dataclass(frozen=True)
class Transactions:
    customer_ids: np.ndarray
    dates: np.ndarray
    amounts: np.ndarray


@dataclass(frozen=True)
class PublishedSummary:
    ids: np.ndarray
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    zbar: np.ndarray


@pytest.fixture(scope="session")
def cdnow_transactions() -> Transactions:
    """The 6,919 CDNOW transactions: customer_index, date, dollar value."""
    raw = np.loadtxt(CDNOW_DIR / "CDNOW_sample.txt", dtype=str)
    ymd = raw[:, 2]
    dates = np.array([f"{s[:4]}-{s[4:6]}-{s[6:]}" for s in ymd], dtype="datetime64[D]")
    return _read_only(Transactions(raw[:, 1].astype(np.int64), dates, raw[:, 4].astype(np.float64)))


@pytest.fixture(scope="session")
def cdnow_published() -> PublishedSummary:
    """The published 39-week calibration summary (x, t_x, T in weeks, zbar)."""
    data = np.genfromtxt(
        CDNOW_DIR / "cdnow_customers_summary_with_transactions.csv", delimiter=",", names=True
    )
    return _read_only(
        PublishedSummary(
            ids=data["ID"].astype(np.int64),
            x=data["x"].astype(np.float64),
            t_x=data["t_x"].astype(np.float64),
            T=data["T"].astype(np.float64),
            zbar=data["zbar"].astype(np.float64),
        )
    )


@pytest.fixture(scope="session")
def cdnow_calibration_summary(cdnow_transactions: Transactions) -> RFMSummary:
    """The 39-week calibration RFM summary in weeks, computed from the raw transactions (unrounded)."""
    tr = cdnow_transactions
    return _read_only(
        summary_from_transactions(
            tr.customer_ids, tr.dates, tr.amounts, observation_end=CDNOW_CALIBRATION_END, freq_days=7
        )
    )


@pytest.fixture(scope="session")
def cdnow_full_summary(cdnow_transactions: Transactions) -> RFMSummary:
    """The RFM summary (days) of the whole 78 weeks of CDNOW transactions."""
    tr = cdnow_transactions
    return _read_only(
        summary_from_transactions(tr.customer_ids, tr.dates, tr.amounts, observation_end=CDNOW_END)
    )


@pytest.fixture(scope="session")
def bgnbd_cdnow(cdnow_published: PublishedSummary) -> BGNBD:
    return BGNBD().fit(cdnow_published.x, cdnow_published.t_x, cdnow_published.T)


@pytest.fixture(scope="session")
def mbgnbd_cdnow(cdnow_published: PublishedSummary) -> MBGNBD:
    return MBGNBD().fit(cdnow_published.x, cdnow_published.t_x, cdnow_published.T)


@pytest.fixture(scope="session")
def paretonbd_cdnow(cdnow_published: PublishedSummary) -> ParetoNBD:
    return ParetoNBD().fit(cdnow_published.x, cdnow_published.t_x, cdnow_published.T)


@pytest.fixture(scope="session")
def gammagamma_cdnow(cdnow_published: PublishedSummary) -> GammaGamma:
    return GammaGamma().fit(cdnow_published.x, cdnow_published.zbar)


@pytest.fixture(scope="session")
def gammagamma_cdnow_raw(cdnow_calibration_summary: RFMSummary) -> GammaGamma:
    """Gamma-Gamma fitted on the mean spends computed exactly from the transactions."""
    s = cdnow_calibration_summary
    return GammaGamma().fit(s.frequency, s.monetary)
