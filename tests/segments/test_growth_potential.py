"""Growth potential and the Pareto figures over buyers only, on the CDNOW sample and the demo."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from cartera.insights.models import CustomerMetrics
from cartera.segments.selectors import growth_potential


def _check_rows(rows) -> None:
    assert rows, "growth potential must find customers on this portfolio"
    gaps = [m.gap for m in rows]
    assert gaps == sorted(gaps, reverse=True)
    for m in rows:
        assert m.frequency >= 1 and m.p_alive >= 0.5  # repeat buyers likely still buying
        assert m.yearly_spend <= 0.5 * m.peer_spend + 0.01  # well below comparable customers
        assert m.gap == pytest.approx(m.peer_spend - m.yearly_spend, abs=0.02)
        years = max((m.tenure_days or 0) / 365.25, 1.0)
        assert m.yearly_spend == pytest.approx(float(m.revenue) / years, abs=0.01)


def test_growth_potential_on_cdnow(analysed_portfolio, owner, outsider):
    rows = growth_potential(user=owner, limit=25)
    _check_rows(rows)
    assert len(rows) == 25
    # The yardstick is the upper quartile of customers with the same R and F scores.
    top = rows[0]
    peers = CustomerMetrics.objects.filter(
        r_score=top.r_score, f_score=top.f_score, frequency__gte=1, p_alive__gte=0.5
    )
    spend = [float(p.revenue) / max((p.tenure_days or 0) / 365.25, 1.0) for p in peers]
    assert top.peer_spend == pytest.approx(float(np.quantile(spend, 0.75)), abs=0.01)
    assert growth_potential(user=outsider) == []


def test_pareto_figures_leave_prospects_apart(analysed_portfolio, owner, client):
    from django.urls import reverse

    from cartera.customers.services import customer_create
    from cartera.insights.services import insights_refresh

    before = client.force_login(owner) or client.get(reverse("segments:pareto")).context["top20"]
    for n in range(50):
        customer_create(actor=owner, fields={"first_name": f"Prospecto {n}"})
    insights_refresh(as_of=dt.date(1998, 6, 30))
    response = client.get(reverse("segments:pareto"))
    assert response.context["top20"] == before == pytest.approx(0.6742, abs=1e-4)
    assert response.context["prospects"] == 50
    assert sum(a["customers"] for a in response.context["abc"]) == 2357


def test_growth_potential_on_the_demo(db, owner, settings):
    from cartera.demo.generator import generate_demo
    from cartera.insights.services import insights_refresh

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    today = dt.date(2026, 11, 20)
    generate_demo(customers=600, seed=3, today=today)
    insights_refresh(as_of=today)
    from cartera.accounts.models import User

    manager = User.objects.get(username="manager")
    _check_rows(growth_potential(user=manager, limit=10))
