"""A streamed export (CSV, vCard) cleans the list's filters with the same rule as an export job
(``export_filters_clean``): a filter the list does not have, or a value its form refuses, sends the
user back to the list with the reason in their language; nothing is downloaded, logged or queued.
Before, the streamed CSV dropped a bad filter and exported the whole list (issue 16)."""

from __future__ import annotations

import csv
import io

import pytest
from django.http import StreamingHttpResponse
from django.urls import reverse

from cartera.customers.services import customer_create
from cartera.imports.models import ExportJob, ExportLog
from cartera.privacy.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def portfolio(owner, customer):
    customer_create(actor=owner, fields={"first_name": "Tomás", "stage": "customer", "email": "t@example.es"})
    customer_create(actor=owner, fields={"first_name": "Prospecta", "stage": "prospect"})
    return customer


def _nothing_exported() -> None:
    assert ExportLog.objects.count() == 0 and ExportJob.objects.count() == 0
    assert not AuditEntry.objects.filter(action="exported").exists()


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "These filters are not valid: stage:"),
        ("es", "Estos filtros no son válidos: stage:"),
    ],
)
@pytest.mark.parametrize("fmt", ["csv", "vcf"])
def test_a_bad_filter_value_goes_back_to_the_list_with_the_reason(
    client, manager, portfolio, language, says, fmt
):
    client.force_login(manager)
    url = reverse("imports:export_customers", args=[fmt]) + "?stage=nope&q=Tom&excel=es"
    response = client.get(url, headers={"accept-language": language})
    assert not isinstance(response, StreamingHttpResponse)
    assert response.status_code == 302
    # Back to the list, the filters as typed (so the user sees them), the CSV's own switch dropped.
    assert response["Location"] == reverse("customers:list") + "?stage=nope&q=Tom"
    page = client.get(response["Location"], headers={"accept-language": language})
    assert says in page.text
    _nothing_exported()


@pytest.mark.parametrize(
    "trick",
    [
        "owner__password__startswith=pbkdf2",  # a lookup through a relation to a secret
        "password=x",
        "notes__icontains=deuda",  # a field the list does not filter on
        "opt_in_sms=1",
        "metrics__clv__gt=1000",
        "cf_no_such_field=1",
    ],
)
def test_a_filter_the_list_does_not_have_is_refused_not_ignored(client, manager, portfolio, trick):
    client.force_login(manager)
    response = client.get(
        reverse("imports:export_customers", args=["csv"]) + f"?{trick}",
        headers={"accept-language": "en"},
        follow=True,
    )
    assert response.redirect_chain and response.redirect_chain[-1][0].startswith(reverse("customers:list"))
    name = trick.split("=")[0]
    assert f"Unknown filter: {name}." in response.text
    _nothing_exported()


def test_an_inactive_owner_or_a_missing_tag_is_refused(client, manager, colleague, portfolio):
    colleague.is_active = False
    colleague.save()
    client.force_login(manager)
    for query in (f"owner={colleague.pk}", "tag=999999", "left_from=2026-02-30", "q=" + "x" * 101):
        response = client.get(
            reverse("imports:export_customers", args=["csv"]) + f"?{query}",
            headers={"accept-language": "es"},
            follow=True,
        )
        assert "Estos filtros no son válidos" in response.text, query
    _nothing_exported()


def test_the_xlsx_and_big_csv_confirmation_refuses_too(client, manager, portfolio, settings):
    client.force_login(manager)
    for fmt in ("xlsx", "csv"):
        settings.CARTERA_EXPORT_STREAM_MAX_ROWS = 1
        response = client.get(
            reverse("imports:export_customers", args=[fmt]) + "?stag=customer",
            headers={"accept-language": "en"},
            follow=True,
        )
        assert 'id="export-start"' not in response.text
        assert "Unknown filter: stag." in response.text
    # The button's POST refuses the same way, back on the list.
    response = client.post(reverse("imports:export_customers", args=["xlsx"]) + "?stag=customer")
    assert response["Location"] == reverse("customers:list") + "?stag=customer"
    _nothing_exported()


def test_orders_and_interactions_take_no_filter(client, manager, portfolio):
    client.force_login(manager)
    for name in ("export_orders", "export_interactions"):
        response = client.get(
            reverse(f"imports:{name}", args=["csv"]) + "?customer__owner=3",
            headers={"accept-language": "es"},
            follow=True,
        )
        assert response.redirect_chain[-1][0] == reverse("imports:index")
        assert "Solo la exportación de clientes admite filtros." in response.text
    _nothing_exported()


def test_good_filters_still_stream_only_their_rows(client, manager, portfolio):
    client.force_login(manager)
    response = client.get(
        reverse("imports:export_customers", args=["csv"]) + "?stage=prospect&sort=name&cursor=abc"
    )
    assert isinstance(response, StreamingHttpResponse)
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body)))
    stage = rows[0].index("Etapa")
    assert "Prospecta" in body and "Tomás" not in body and len(rows) == 3  # Lucía is a prospect too
    assert {r[stage] for r in rows[1:]} == {"Cliente potencial"}
    assert ExportLog.objects.get().filters == {"stage": "prospect"}
