"""Dashboard details of issue 10: months named in the user's language, the running month marked
partial, the shrink alert leading to who left, and a glossary of the analysis' figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import translation

from cartera.insights.models import CustomerMetrics, PortfolioSnapshot
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


def test_the_shrink_alert_opens_the_customers_who_left(client, owner, analysed_portfolio, cdnow_end):
    """The alert's link lists exactly the customers who left the active base in the month it speaks of
    (active at the end of May 1998, inactive or lost at the end of June), and says how many."""
    import html
    import re

    import numpy as np

    from cartera.insights import selectors as insight_selectors
    from cartera.insights.analysis import ACTIVE_BASE, GONE, statuses_at
    from cartera.insights.services import lifecycle_thresholds

    client.force_login(owner)
    response = client.get(reverse("web:home"), HTTP_ACCEPT_LANGUAGE="en")
    board = response.context["board"]
    labels = [m["label"] for m in board.months]
    assert all(len(label.split()) == 2 for label in labels)
    assert board.shrinking > 0, "the CDNOW cohort lapses: by June 1998 the active base shrinks"
    body = response.content.decode()
    link = re.search(r'<a id="shrink-left" href="([^"]+)">([^<]+)</a>', body)
    assert link, "the alert has no link to who left"
    n = board.left["count"]
    assert f"See the {n} customers who left since 06/01/1998" in link.group(2)
    assert (board.left["from"], board.left["to"]) == (dt.date(1998, 6, 1), cdnow_end)

    listed = client.get(html.unescape(link.group(1)), HTTP_ACCEPT_LANGUAGE="en")
    assert listed.status_code == 200
    assert listed.context["total"] == n and not listed.context["more_than_total"]
    shown = {c.pk for c in listed.context["page"].rows}

    # Who left, recomputed from the orders: in the active base on 31 May, out of it on 30 June.
    orders, ids = insight_selectors.order_arrays(), insight_selectors.customer_ids()
    before = statuses_at(orders, ids, as_of=dt.date(1998, 5, 31), thresholds=lifecycle_thresholds())
    after = statuses_at(orders, ids, as_of=cdnow_end, thresholds=lifecycle_thresholds())
    left = np.sort(ids)[np.isin(before.lifecycle, ACTIVE_BASE) & np.isin(after.lifecycle, GONE)]
    assert n == len(left) > 0
    assert n <= 50, "one page holds them all"
    assert shown == set(left.tolist())
    # Not every inactive customer: most of them had left before June.
    assert n < CustomerMetrics.objects.filter(lifecycle__in=GONE).count()
