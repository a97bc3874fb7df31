"""The prospect fit score in the app: after a refresh (the ``prospect_fit_refresh`` hook queues the
worker's ``score_prospects``, which runs ``prospect_fit_refresh``) each suspect and prospect is scored against the customers who bring the top 20 % of the revenue, and the score with
its reasons shows on their page, in the prospect list (sorted, filtered) and in the calls for today."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from cartera.core import hooks
from cartera.customers.models import Customer, Stage
from cartera.customers.services import customer_create
from cartera.insights.models import CustomerMetrics
from cartera.pipeline.models import ProspectFit
from cartera.pipeline.services import prospect_fit_refresh
from tests.conftest import login

pytestmark = pytest.mark.django_db


def _buyer(actor, i, sector, region, revenue):
    person = customer_create(
        actor=actor,
        fields={"first_name": f"C{i}", "sector": sector, "region": region, "stage": Stage.CUSTOMER,
                "source": "referral"},
    )  # fmt: skip
    CustomerMetrics.objects.create(customer=person, revenue=Decimal(revenue), computed_at=timezone.now())


@pytest.fixture
def portfolio(owner):
    """The top fifth of revenue is industrial and in Madrid; the rest are shops elsewhere."""
    for i in range(12):
        _buyer(owner, i, "Industria", "Madrid", 5000 + i)
    for i in range(12, 60):
        _buyer(owner, i, ["Comercio", "Hostelería"][i % 2], ["Sevilla", "Bilbao", "Valencia"][i % 3], 100 + i)
    like = customer_create(actor=owner, fields={"first_name": "Parecida", "sector": " industria ",
                                                "region": "MADRID", "stage": Stage.PROSPECT})  # fmt: skip
    unlike = customer_create(actor=owner, fields={"first_name": "Distinta", "sector": "Hostelería",
                                                  "region": "Bilbao", "stage": Stage.SUSPECT})  # fmt: skip
    return like, unlike


def test_a_refresh_scores_prospects_against_the_top_customers_with_reasons(portfolio):
    like, unlike = portfolio
    prospect_fit_refresh()
    assert ProspectFit.objects.count() == 2  # prospects and suspects only, never the customers
    good, poor = ProspectFit.objects.get(customer=like), ProspectFit.objects.get(customer=unlike)
    assert good.score > 90 and poor.score < 20
    assert [reason[:2] for reason in good.reasons] == [["sector", "industria"], ["region", "madrid"]]
    # A second refresh replaces the scores (a customer who bought since is no longer scored).
    Customer.objects.filter(pk=unlike.pk).update(stage=Stage.CUSTOMER)
    prospect_fit_refresh()
    assert list(ProspectFit.objects.values_list("customer_id", flat=True)) == [like.pk]


def test_too_few_paying_customers_give_no_score(owner):
    _buyer(owner, 1, "Industria", "Madrid", 100)
    customer_create(actor=owner, fields={"first_name": "Nueva", "stage": Stage.PROSPECT})
    prospect_fit_refresh()
    assert not ProspectFit.objects.exists()


def test_the_score_shows_on_the_page_in_the_list_and_in_the_calls(client, owner, portfolio):
    like, unlike = portfolio
    Customer.objects.filter(pk__in=[like.pk, unlike.pk]).update(
        created_at=timezone.now() - dt.timedelta(days=1)
    )
    prospect_fit_refresh()
    login(client, owner)
    page = client.get(reverse("customers:detail", args=[like.pk])).content.decode()
    assert "fitcard" in page and "Industria" in page and "Madrid" in page
    listing = client.get(reverse("pipeline:prospects")).content.decode()
    assert listing.index("Parecida") < listing.index("Distinta")
    by_name = client.get(reverse("pipeline:prospects") + "?sort=name").content.decode()
    assert by_name.index("Distinta") < by_name.index("Parecida")
    only_good = client.get(reverse("pipeline:prospects") + "?fit=60").content.decode()
    assert "Parecida" in only_good and "Distinta" not in only_good
    calls = client.get(reverse("pipeline:calls")).content.decode()
    assert calls.index("Parecida") < calls.index("Distinta") and "badge fit" in calls
    good_calls = client.get(reverse("pipeline:calls") + "?fit=60").content.decode()
    assert "Parecida" in good_calls and "Distinta" not in good_calls


# The worker closes the database connection after its batch: on PostgreSQL that needs a real commit.
@pytest.mark.django_db(transaction=True)
def test_a_refresh_queues_the_scoring_once_and_the_worker_runs_it(portfolio):
    """The scoring is not part of the refresh (it would hold the refresh's lock and time): the hook
    queues one task when the refresh commits, two refreshes in a row still queue one, and the real
    worker then writes the scores."""
    from django.core.management import call_command
    from django_tasks_db.models import DBTaskResult

    from cartera.pipeline.tasks import score_prospects

    like, _unlike = portfolio
    hooks.fire("prospect_fit_refresh", snapshot=None)
    hooks.fire("prospect_fit_refresh", snapshot=None)
    queued = DBTaskResult.objects.filter(task_path=score_prospects.module_path)
    assert queued.count() == 1 and not ProspectFit.objects.exists()
    call_command("db_worker", "--batch", "--interval", "0", verbosity=0)
    job = queued.get()
    assert job.status == "SUCCESSFUL" and job.return_value.startswith("2 prospects scored in ")
    assert ProspectFit.objects.get(customer=like).score > 90


def test_the_column_encoding_reads_every_customer_as_the_row_by_row_definition():
    import datetime as dt

    from cartera.pipeline.services import fit_attributes, fit_table

    today = dt.date(2026, 12, 3)
    rows = [
        {"sector": " Industria  química ", "region": "MADRID", "company__size": "10-49", "source": "web",
         "birth_date": dt.date(2001, 12, 4)},
        {"sector": None, "region": "", "company__size": None, "source": None, "birth_date": None},
        {"sector": "industria química", "region": "madrid", "company__size": "", "source": "referral",
         "birth_date": dt.date(2001, 12, 3)},
        {"sector": "Hostelería", "region": "Sevilla", "company__size": "250+", "source": "web",
         "birth_date": dt.date(1950, 1, 1)},
    ]  # fmt: skip
    columns = {
        "sector": [r["sector"] for r in rows],
        "region": [r["region"] for r in rows],
        "size": [r["company__size"] for r in rows],
        "source": [r["source"] for r in rows],
        "birth_date": [r["birth_date"] for r in rows],
    }
    assert fit_table(columns, today).tolist() == [fit_attributes(r, today) for r in rows]
    assert fit_table({key: [] for key in columns}, today).shape == (0, 5)
