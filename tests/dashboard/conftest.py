"""The CDNOW sample refreshed and backfilled, for the dashboard."""

from __future__ import annotations

import pytest


@pytest.fixture
def analysed_portfolio(cdnow_portfolio, cdnow_end):
    """The CDNOW portfolio refreshed on 1998-06-30 with 6 month-end snapshots."""
    from cartera.insights.services import insights_backfill, insights_refresh

    insights_backfill(months=6, as_of=cdnow_end)
    insights_refresh(as_of=cdnow_end)
    return cdnow_portfolio
