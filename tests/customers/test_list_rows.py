"""The customer list's rows written in Python (``{% customer_rows %}``) are the same markup, character
for character, as their plain twin, the template ``customers/_rows.html``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import timezone, translation

from cartera.customers.classification import Lifecycle
from cartera.customers.models import Customer, Stage
from cartera.customers.services import company_create, customer_create
from cartera.insights.models import CustomerMetrics
from tests.conftest import login, without_tokens

ROWS = Template("{% load customer_list %}{% customer_rows rows %}")


def both_ways(rows, settings) -> tuple[str, str]:
    settings.CARTERA_BULK_PLAIN = False
    fast = ROWS.render(Context({"rows": rows}))
    settings.CARTERA_BULK_PLAIN = True
    plain = ROWS.render(Context({"rows": rows}))
    settings.CARTERA_BULK_PLAIN = False
    return fast, plain


@pytest.fixture
def varied_people(owner, manager):
    """Every shape a row takes: with and without company, e-mail, phone (Spanish, foreign, not a
    number), owner and analysis; declining or not; names and values that need escaping."""
    shop = company_create(actor=manager, fields={"name": 'Ferretería "La <Llave>" & Cía'})
    people = [
        customer_create(actor=owner, fields={"first_name": "Lucía", "last_name": "Martínez Ortega",
                        "email": "lucia@example.es", "phone": "612 345 678", "company": shop}),
        customer_create(actor=manager, fields={"first_name": "<b>Bold</b>", "last_name": "O'Brien & Co",
                        "phone": "+44 20 7946 0958", "stage": Stage.PROSPECT}),
        customer_create(actor=manager, fields={"first_name": "Sin", "last_name": "Datos", "stage": Stage.SUSPECT}),
        customer_create(actor=owner, fields={"first_name": "Ex", "last_name": "Cliente", "stage": Stage.FORMER,
                        "email": "ex@example.es"}),
    ]  # fmt: skip
    Customer.objects.filter(pk=people[2].pk).update(owner=None)
    Customer.objects.filter(pk=people[3].pk).update(phone="not a number")
    now = timezone.now()
    for person, lifecycle, declining, last in [
        (people[0], Lifecycle.ACTIVE, True, dt.date(2026, 3, 9)),
        (people[1], Lifecycle.AT_RISK, False, None),
        (people[3], Lifecycle.INACTIVE, False, dt.date(2024, 12, 31)),
    ]:
        CustomerMetrics.objects.create(
            customer=person, lifecycle=lifecycle, declining=declining, last_order_on=last,
            revenue=Decimal("1234567.89"), computed_at=now,
        )  # fmt: skip
    return Customer.objects.select_related("company", "owner", "metrics").order_by("pk")


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_kind_of_row_matches_the_template(settings, varied_people, language):
    with translation.override(language):
        fast, plain = both_ways(list(varied_people), settings)
    assert fast == plain
    assert fast.count("<tr>") == 4 and "&lt;b&gt;Bold&lt;/b&gt;" in fast and "O&#x27;Brien &amp; Co" in fast
    assert "↘" in fast and 'class="nometrics"' in fast and ">—</td>" in fast


@pytest.mark.parametrize("language", ["es", "en"])
def test_no_rows_matches_the_template(settings, db, language):
    with translation.override(language):
        fast, plain = both_ways([], settings)
    assert fast == plain and 'colspan="9"' in fast


@pytest.mark.parametrize("query", ["", "?q=lucia", "?q=nadie-se-llama-asi", "?stage=prospect"])
@pytest.mark.parametrize("language", ["es", "en"])
def test_the_list_page_is_the_same_both_ways(client, settings, varied_people, manager, language, query):
    login(client, manager)
    pages = []
    for plain in (False, True):
        settings.CARTERA_BULK_PLAIN = plain
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(f"/customers/{query}", headers={"accept-language": language, **headers})
            assert response.status_code == 200
            pages.append(without_tokens(response.content.decode()))
    settings.CARTERA_BULK_PLAIN = False
    assert pages[0] == pages[2] and pages[1] == pages[3]


@pytest.mark.django_db
def test_every_filter_label_of_the_list_starts_with_a_capital(client, manager):
    """Each filter's label is a heading over its box: "Segmento RFM", not "segmento RFM" (the form's
    labels are lower case, as they also stand mid-sentence; the list writes them with a capital)."""
    import re

    client.force_login(manager)
    for language in ("es", "en"):
        html = client.get("/customers/", headers={"accept-language": language}).content.decode()
        filters = html.split('<div class="filters', 1)[1].split("</details>", 1)[0]
        labels = [m.strip() for m in re.findall(r"<label[^>]*>([^<]*)<", filters) if m.strip()]
        assert len(labels) >= 10 and [label for label in labels if not label[0].isupper()] == [], labels
