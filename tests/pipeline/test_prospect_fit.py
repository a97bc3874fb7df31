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


def _segment(user, rule):
    from cartera.segments.selectors import definition_members

    definition = {"match": "all", "groups": [{"match": "all", "rules": [rule]}]}
    return set(definition_members(user=user, definition=definition).values_list("first_name", flat=True))


def test_the_fit_score_is_a_segment_condition(owner, portfolio):
    from django.core.exceptions import ValidationError

    from cartera.segments.rules import definition_clean

    prospect_fit_refresh()
    assert _segment(owner, {"field": "prospect_fit", "op": "gte", "value": 60}) == {"Parecida"}
    assert _segment(owner, {"field": "prospect_fit", "op": "lt", "value": 60}) == {"Distinta"}
    assert _segment(owner, {"field": "prospect_fit", "op": "between", "value": [0, 100]}) == {
        "Parecida",
        "Distinta",
    }
    # Customers are never scored: "is empty" finds them (and a prospect not scored yet).
    unscored = _segment(owner, {"field": "prospect_fit", "op": "empty", "value": None})
    assert "Parecida" not in unscored and "C0" in unscored and len(unscored) == 60
    with pytest.raises(ValidationError):
        definition_clean({"match": "all", "groups": [{"match": "all", "rules": [
            {"field": "prospect_fit", "op": "gte", "value": 150}]}]})  # fmt: skip


def test_the_fit_score_in_the_api(client, owner, colleague, portfolio):
    from cartera.accounts.services import api_token_create

    like, unlike = portfolio
    prospect_fit_refresh()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=owner, name='t')[1]}"}
    body = client.get("/api/prospects", **auth).json()
    assert [p["name"] for p in body["items"]] == ["Parecida", "Distinta"]  # best fit first
    first = body["items"][0]
    assert first["id"] == like.pk and first["fit"] > 90 and first["stage"] == "prospect"
    assert first["fit_reasons"][0].startswith("Sector") and first["fit_computed_at"]
    assert [p["name"] for p in client.get("/api/prospects?min_fit=60", **auth).json()["items"]] == [
        "Parecida"
    ]
    assert client.get("/api/prospects?min_fit=101", **auth).status_code == 422
    # Paged with a cursor, the order kept.
    page = client.get("/api/prospects?limit=1", **auth).json()
    rest = client.get(f"/api/prospects?limit=1&cursor={page['next_cursor']}", **auth).json()
    assert [page["items"][0]["name"], rest["items"][0]["name"]] == ["Parecida", "Distinta"]
    one = client.get(f"/api/prospects/{unlike.pk}", **auth).json()
    assert one["fit"] < 20 and one["name"] == "Distinta"
    customer = Customer.objects.get(first_name="C0")
    assert client.get(f"/api/prospects/{customer.pk}", **auth).json()["fit"] is None
    assert client.get("/api/prospects/999999", **auth).status_code == 404


def test_each_prospect_is_told_which_persona_they_look_most_like(client, owner, manager, portfolio):
    from cartera.accounts.services import api_token_create
    from cartera.segments.models import Persona

    like, unlike = portfolio

    def rule(field, value):
        return {
            "match": "all",
            "groups": [{"match": "all", "rules": [{"field": field, "op": "eq", "value": value}]}],
        }

    industry = Persona.objects.create(
        name="Industria madrileña", owner=owner, definition=rule("sector", "Industria")
    )
    Persona.objects.create(name="Tiendas de Sevilla", owner=manager, definition=rule("region", "Sevilla"))
    # Too few paying members to learn from: never named.
    Persona.objects.create(name="Nadie", owner=owner, definition=rule("sector", "Minería"))
    prospect_fit_refresh()
    assert ProspectFit.objects.get(customer=like).persona == industry
    assert ProspectFit.objects.get(customer=unlike).persona is None  # a bar in Bilbao: like neither
    login(client, owner)
    page = client.get(reverse("customers:detail", args=[like.pk])).content.decode()
    assert "Industria madrileña" in page and reverse("segments:persona_detail", args=[industry.pk]) in page
    listing = client.get(reverse("pipeline:prospects")).content.decode()
    assert "fit-persona" in listing and "Industria madrileña" in listing
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_token_create(user=owner, name='t')[1]}"}
    found = client.get(f"/api/prospects/{like.pk}", **auth).json()
    assert (found["fit_persona"], found["fit_persona_name"]) == (industry.pk, "Industria madrileña")
    assert client.get(f"/api/prospects/{unlike.pk}", **auth).json()["fit_persona"] is None
    # A persona deleted later leaves the score without a name, never an error.
    industry.delete()
    assert ProspectFit.objects.get(customer=like).persona is None
    assert client.get(reverse("customers:detail", args=[like.pk])).status_code == 200
