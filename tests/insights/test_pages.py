"""The analysis as people see it: the status card and the list's filters, columns and sorts."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from cartera.insights.models import CustomerMetrics
from cartera.insights.services import insights_refresh

END = dt.date(1998, 6, 30)


def test_status_card_explains_the_status_in_both_languages(client, owner, cdnow_portfolio):
    insights_refresh(as_of=END)
    client.force_login(owner)
    url = reverse("customers:detail", args=[1])
    client.cookies["django_language"] = "en"
    body = client.get(url).content.decode()
    m = CustomerMetrics.objects.get(customer_id=1)
    assert 'id="status"' in body and m.get_lifecycle_display() in body
    assert f"{m.recency_days} days" in body  # the reason names the days since the last purchase
    assert "What do these numbers mean?" in body
    client.cookies["django_language"] = "es"
    body_es = client.get(url).content.decode()
    assert f"{m.recency_days} días" in body_es


def test_status_card_before_any_refresh(client, owner, customer):
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    body = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'id="status"' in body and "has not run yet" in body


def test_list_filters_by_status_and_sorts_by_revenue_across_pages(client, owner, cdnow_portfolio):
    from cartera.customers.services import customer_create

    for i in range(3):
        customer_create(actor=owner, fields={"first_name": f"Sin métricas {i}"})
    insights_refresh(as_of=END)
    for i in range(3):  # created after the refresh: no metrics row yet, sorted last
        customer_create(actor=owner, fields={"first_name": f"Nuevo {i}"})
    client.force_login(owner)
    lost = client.get(reverse("customers:list"), {"lifecycle": "lost"})
    assert lost.context["total"] == CustomerMetrics.objects.filter(lifecycle="lost").count()
    assert all(c.metrics.lifecycle == "lost" for c in lost.context["page"].rows)

    seen, cursor, revenues = [], None, []
    while True:
        params = {"sort": "revenue", **({"cursor": cursor} if cursor else {})}
        page = client.get(reverse("customers:list"), params).context["page"]
        seen += [c.pk for c in page.rows]
        revenues += [
            getattr(getattr(c, "metrics", None), "revenue", None) for c in page.rows if hasattr(c, "metrics")
        ]
        cursor = page.next_cursor
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == cdnow_portfolio["customers"] + 6
    assert revenues == sorted(revenues, reverse=True)


def test_declining_filter(client, owner, cdnow_portfolio):
    insights_refresh(as_of=END)
    client.force_login(owner)
    response = client.get(reverse("customers:list"), {"declining": "on"})
    assert response.context["total"] == CustomerMetrics.objects.filter(declining=True).count()


def test_api_shows_metrics_filters_and_sorts(client, owner, cdnow_portfolio):
    from cartera.accounts.services import api_token_create

    insights_refresh(as_of=END)
    _token, key = api_token_create(user=owner, name="test")
    auth = {"Authorization": f"Bearer {key}", "Accept-Language": "en"}
    one = client.get("/api/customers/1", headers=auth).json()
    m = CustomerMetrics.objects.get(customer_id=1)
    assert one["metrics"]["lifecycle"] == m.lifecycle and one["metrics"]["orders_count"] == 4
    assert f"{m.recency_days} days" in one["metrics"]["reason"]
    page = client.get(
        "/api/customers", {"lifecycle": "active", "sort": "revenue", "limit": 20}, headers=auth
    ).json()
    revenues = [float(c["metrics"]["revenue"]) for c in page["items"]]
    assert revenues and revenues == sorted(revenues, reverse=True)
    assert all(c["metrics"]["lifecycle"] == "active" for c in page["items"])
