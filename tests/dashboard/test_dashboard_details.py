"""Dashboard details of issue 10: months named in the user's language, the running month marked
partial, the shrink alert leading to who left, and a glossary of the analysis' figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from cartera.insights.models import PortfolioSnapshot
from cartera.web.selectors import _monthly, month_label

pytestmark = pytest.mark.django_db


def test_months_are_named_in_the_users_language():
    with translation.override("es"):
        assert month_label(dt.date(2025, 1, 1)) == "ene 2025"
    with translation.override("en"):
        assert month_label(dt.date(2025, 1, 1)) == "Jan 2025"


def _snapshot(day: dt.date, active: int) -> PortfolioSnapshot:
    return PortfolioSnapshot(taken_on=day, active_base=active, new_customers=1, reactivated=0, newly_inactive=2,
                             revenue_period=Decimal("10"))  # fmt: skip


def test_the_running_month_is_partial_and_a_finished_one_is_not():
    running = _monthly([_snapshot(dt.date(2026, 10, 31), 50), _snapshot(dt.date(2026, 11, 20), 40)])
    assert [m.get("partial", False) for m in running] == [False, True]
    finished = _monthly([_snapshot(dt.date(2026, 10, 31), 50), _snapshot(dt.date(2026, 11, 30), 40)])
    assert [m.get("partial", False) for m in finished] == [False, False]


def test_the_glossary_explains_the_figures_in_spanish(client, owner):
    client.force_login(owner)
    page = client.get(reverse("web:glossary"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    for words in ("Glosario", "Valor en riesgo", "RFM", "Clase ABC", "Probabilidad"):
        assert words in page, words
    assert 'id="value-at-risk"' in page and 'id="clv"' in page


def test_the_shrink_alert_opens_the_customers_who_left(client, owner, analysed_portfolio):
    client.force_login(owner)
    response = client.get(reverse("web:home"))
    board = response.context["board"]
    labels = [m["label"] for m in board.months]
    assert all(len(label.split()) == 2 for label in labels)
    if board.shrinking:
        assert "?lifecycle=inactive&amp;sort=last_purchase" in response.content.decode()
