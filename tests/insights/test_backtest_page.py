"""The page "¿Cuánto acertamos?" / "How good are these predictions?" and the customer page's hint."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from cartera.insights.models import CustomerMetrics
from cartera.insights.services import backtest_run, insights_refresh

CUTOFF = dt.date(1997, 9, 30)
END = dt.date(1998, 6, 30)


@pytest.fixture
def checked(cdnow_portfolio):
    """CDNOW, checked on its published calibration period and refreshed at its end."""
    row = backtest_run(cutoff=CUTOFF, holdout_end=END)
    insights_refresh(as_of=END)
    return row


def _get(client, user, url, language):
    client.force_login(user)
    client.cookies["django_language"] = language
    return client.get(url)


def test_page_before_any_backtest_says_so(client, owner, customer):
    response = _get(client, owner, reverse("insights:backtest"), "en")
    assert response.status_code == 200
    assert b"have not been checked yet" in response.content


def test_page_shows_the_backtest_in_both_languages(client, owner, checked):
    response = _get(client, owner, reverse("insights:backtest"), "es")
    html = response.content.decode()
    assert response.status_code == 200
    assert "¿Cuánto acertamos?" in html and "Pareto/NBD" in html
    assert 'id="auc-recency">0,771<' in html
    statuses = response.context["statuses"]
    codes = [s["code"] for s in statuses]
    assert codes == ["active", "at_risk", "inactive", "one_time"]
    rates = {s["code"]: s["rate"] for s in statuses}
    assert rates["active"] > rates["at_risk"] > rates["inactive"]
    assert len(response.context["calibration"]) == 10
    assert response.context["spend_model_used"] is True
    english = _get(client, owner, reverse("insights:backtest"), "en").content.decode()
    assert "How good are these predictions?" in english and 'id="auc-recency">0.771<' in english


def test_outsider_sees_nothing_and_queues_nothing(client, outsider, checked):
    from django_tasks_db.models import DBTaskResult

    assert _get(client, outsider, reverse("insights:backtest"), "en").status_code == 404
    assert client.post(reverse("insights:backtest_queue")).status_code == 404
    assert not DBTaskResult.objects.exists()


def test_check_again_queues_one_backtest(client, owner, customer):
    from django_tasks_db.models import DBTaskResult

    client.force_login(owner)
    for _ in range(2):
        response = client.post(reverse("insights:backtest_queue"))
        assert response.status_code == 302
    assert DBTaskResult.objects.count() == 1


def test_customer_page_shows_the_probability_of_buying_with_a_hint(client, owner, checked):
    # Customer 1 of CDNOW bought 4 times; the page shows the 90-day probability, not BG/NBD's P(alive).
    metrics = CustomerMetrics.objects.get(customer_id=1)
    html = _get(client, owner, reverse("customers:detail", args=[1]), "es").content.decode()
    assert "Probabilidad de seguir activo" not in html
    assert "Probabilidad de comprar, próximos 90 días" in html
    assert f'id="p-purchase">{round(metrics.p_purchase_90d * 100)}\u00a0%<' in html
    assert reverse("insights:backtest") in html and "de las veces" in html
    english = _get(client, owner, reverse("customers:detail", args=[1]), "en").content.decode()
    assert "Probability of buying, next 90 days" in english and "How good are these predictions?" in english


def test_one_time_buyer_has_their_own_status_on_the_customer_page(client, owner, checked):
    one_time = CustomerMetrics.objects.filter(lifecycle="lost", orders_count=1).first()
    assert one_time is not None  # at the end of CDNOW, one-time buyers of early 1997 are over a year old
    html = _get(
        client, owner, reverse("customers:detail", args=[one_time.customer_id]), "en"
    ).content.decode()
    assert "Bought once" in html and "life-lost" in html
