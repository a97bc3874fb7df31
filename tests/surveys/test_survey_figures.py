"""Survey results counted by the database, and by the worker for surveys with many answers.

The results are counted with GROUP BY (a tally of a few thousand rows at a million answers): they must
equal the figures counted answer by answer in Python (the plain twin below, what the page did before).
Above ``CARTERA_SURVEY_RESULTS_INLINE_MAX`` answers, a page view does not count them: it shows what the
worker counted, with the time, and says when newer answers are being counted (one task queued
whatever the views).
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict

import pytest
from django.urls import reverse
from django.utils import timezone

from cartera.customers.classification import Lifecycle
from cartera.surveys.models import Invitation, SurveyFigures, SurveyResponse
from cartera.surveys.selectors.surveys import (
    follow_up_effect,
    lapse_reasons,
    results,
    results_since,
    score_of,
)
from cartera.surveys.services.surveys import invitation_create, response_record, survey_create


def _results_answer_by_answer(survey):
    """The plain twin: every answer read into Python and grouped there."""
    since = results_since()
    by_month, by_owner, by_status = defaultdict(list), defaultdict(list), defaultdict(list)
    statuses = dict(Lifecycle.choices)
    answers = SurveyResponse.objects.filter(survey=survey, answered_at__gte=since).select_related(
        "customer__owner", "customer__metrics", "invitation"
    )
    for row in answers:
        if row.score is None:
            continue
        by_month[f"{timezone.localtime(row.answered_at):%Y-%m}"].append(row.score)
        owner = row.customer.owner if row.customer else None
        name = (f"{owner.first_name} {owner.last_name}".strip() or owner.username) if owner else "—"
        by_owner[name].append(row.score)
        metrics = getattr(row.customer, "metrics", None) if row.customer else None
        by_status[str(statuses.get(metrics.lifecycle if metrics else None, "—"))].append(row.score)
    invited = Counter(
        f"{timezone.localtime(i.created_at):%Y-%m}"
        for i in Invitation.objects.filter(survey=survey, open=False, created_at__gte=since)
    )
    answered = Counter(
        f"{timezone.localtime(r.invitation.created_at):%Y-%m}"
        for r in answers
        if r.invitation and not r.invitation.open
    )
    return {
        "overall": score_of(survey.kind, [s for v in by_month.values() for s in v]),
        "months": [
            {
                "month": m,
                "score": score_of(survey.kind, by_month.get(m, [])),
                "invited": invited[m],
                "rate": round(100 * answered[m] / invited[m], 1) if invited[m] else None,
            }
            for m in sorted(set(by_month) | set(invited))
        ],
        "by_owner": sorted(((k, score_of(survey.kind, v)) for k, v in by_owner.items()), key=lambda r: r[0]),
        "by_status": sorted(
            ((k, score_of(survey.kind, v)) for k, v in by_status.items()), key=lambda r: r[0]
        ),
        "invited": sum(invited.values()),
        "answered": sum(answered.values()),
    }


@pytest.fixture
def answered_survey(manager, owner, make_user):
    """An NPS survey with 60 answers over the last year from customers of two owners in several
    statuses, some anonymous-customer-free counter answers, and a lapse survey with reasons."""
    from cartera.customers.services import customer_create
    from cartera.insights.models import CustomerMetrics

    other = make_user("beatriz", "sales_rep", first_name="Beatriz", last_name="Soler")
    survey = survey_create(actor=manager, fields={"name": "NPS anual", "kind": "nps", "cap_days": 1})
    lapse = survey_create(actor=manager, fields={"name": "¿Por qué?", "kind": "lapse", "cap_days": 1})
    rng = random.Random(7)
    now = timezone.now()
    statuses = ["active", "at_risk", "inactive", None]
    for k in range(60):
        seller = owner if k % 3 else other
        customer = customer_create(
            actor=seller, fields={"first_name": f"Cliente {k}", "email": f"c{k}@example.es"}
        )
        status = statuses[k % 4]
        if status:
            CustomerMetrics.objects.create(customer=customer, lifecycle=status, computed_at=now)
        invitation = invitation_create(actor=None, survey=survey, customer=customer)
        answered_at = now - dt.timedelta(days=rng.randrange(0, 330), hours=rng.randrange(0, 24))
        Invitation.objects.filter(pk=invitation.pk).update(created_at=answered_at - dt.timedelta(hours=3))
        if k % 5:
            response_record(invitation=invitation, score=rng.randrange(0, 11), now=answered_at)
        if k % 4 == 0:
            response_record(
                invitation=invitation_create(actor=None, survey=lapse, customer=customer),
                score=None,
                reason=rng.choice(["price", "service", "moved"]),
            )
    # Answers either side of midnight at a month's turn, local time (UTC is an hour or two behind).
    turn = timezone.localdate().replace(day=1) - dt.timedelta(days=62)
    turn = timezone.make_aware(dt.datetime(turn.year, turn.month, 1, 0, 30))
    for when, score in ((turn, 10), (turn - dt.timedelta(hours=1), 0)):
        customer = customer_create(
            actor=owner, fields={"first_name": "Medianoche", "email": f"m{score}@example.es"}
        )
        invitation = invitation_create(actor=None, survey=survey, customer=customer)
        Invitation.objects.filter(pk=invitation.pk).update(created_at=when - dt.timedelta(minutes=20))
        response_record(invitation=invitation, score=score, now=when)
    counter = invitation_create(actor=manager, survey=survey, customer=None)
    for score in (10, 9, 3):
        response_record(invitation=counter, score=score)
    return survey, lapse


def test_results_counted_by_the_database_equal_the_answer_by_answer_count(manager, answered_survey):
    survey, _lapse = answered_survey
    counted = results(user=manager, survey=survey)
    assert counted["overall"].n == 53  # 48 personal answers, 2 at midnight, 3 at the counter
    midnight = {m["month"]: m["score"].n for m in counted["months"]}
    turn = timezone.localdate().replace(day=1) - dt.timedelta(days=62)
    before_turn = turn.replace(day=1) - dt.timedelta(days=1)
    assert midnight[f"{turn:%Y-%m}"] >= 1 and midnight[f"{before_turn:%Y-%m}"] >= 1
    assert {k: counted[k] for k in _results_answer_by_answer(survey)} == _results_answer_by_answer(survey)
    assert counted["as_of"] is None and counted["pending"] is False


def test_the_api_gives_the_results_the_page_shows(client, manager, owner, answered_survey):
    survey, lapse = answered_survey
    counted = results(user=manager, survey=survey)
    client.force_login(owner)  # a sales rep sees every answer, as on the pages
    got = client.get(f"/api/surveys/{survey.pk}/results").json()
    assert got["overall"] == {"n": 53, "value": counted["overall"].value, "low": counted["overall"].low,
                              "high": counted["overall"].high}  # fmt: skip
    assert [m["month"] for m in got["months"]] == [m["month"] for m in counted["months"]]
    assert [(g["group"], g["score"]["n"]) for g in got["by_owner"]] == [
        (k, v.n) for k, v in counted["by_owner"]
    ]
    assert got["invited"] == counted["invited"] and got["as_of"] is None and got["pending"] is False
    assert client.get(f"/api/surveys/{lapse.pk}/results").json()["overall"]["n"] == 0
    missing = client.get("/api/surveys/999999/results")
    assert missing.status_code == 404 and missing["Content-Type"].startswith("application/json")


def test_a_survey_with_many_answers_is_counted_by_the_worker_and_shown_with_its_time(
    client, manager, answered_survey, settings, django_capture_on_commit_callbacks
):
    from django_tasks_db.models import DBTaskResult

    from cartera.surveys.tasks import compute_figures

    survey, lapse = answered_survey
    inline = results(user=manager, survey=survey)
    reasons, effect = lapse_reasons(user=manager), follow_up_effect(user=manager)
    settings.CARTERA_SURVEY_RESULTS_INLINE_MAX = 10
    client.force_login(manager)
    queued = DBTaskResult.objects.filter(task_path=compute_figures.module_path)
    for url in (reverse("surveys:detail", args=[survey.pk]), reverse("surveys:results")):
        with django_capture_on_commit_callbacks(execute=True):
            page = client.get(url, headers={"Accept-Language": "es"})
        assert page.status_code == 200
        assert "se están contando en segundo plano" in page.content.decode()
    assert [job.status for job in queued] == ["READY"]  # two views, one task
    assert SurveyFigures.objects.filter(survey=survey, computed_at=None).exists()

    assert compute_figures.call().startswith(f"surveys {survey.pk}")
    stored = SurveyFigures.objects.get(survey=survey)
    counted = results(user=manager, survey=survey, figures=stored)
    assert {k: counted[k] for k in inline if k not in ("as_of", "pending")} == {
        k: v for k, v in inline.items() if k not in ("as_of", "pending")
    }
    assert counted["as_of"] == stored.computed_at and counted["pending"] is False
    api = client.get(f"/api/surveys/{survey.pk}/results").json()
    assert api["overall"]["n"] == inline["overall"].n and api["as_of"] and api["pending"] is False
    # The lapse survey is small: counted in the page; the NPS survey's part comes from the worker.
    assert lapse_reasons(user=manager, stored=[stored]) == reasons
    assert follow_up_effect(user=manager, stored=[stored]) == effect
    queued.delete()
    page = client.get(reverse("surveys:detail", args=[survey.pk]), headers={"Accept-Language": "en"})
    body = page.content.decode()
    assert "these figures were counted in the background on" in body and "Newer answers" not in body
    assert f'<span class="num">{inline["overall"].n}</span>' in body

    # A new answer: the page shows the count it has, says a newer one is coming, and the worker is asked.
    with django_capture_on_commit_callbacks(execute=True):
        response_record(invitation=invitation_create(actor=None, survey=survey, customer=None), score=10)
    assert [job.status for job in queued] == ["READY"]
    body = client.get(
        reverse("surveys:detail", args=[survey.pk]), headers={"Accept-Language": "es"}
    ).content.decode()
    assert "Las respuestas más recientes se están contando" in body
    compute_figures.call()
    assert (
        results(user=manager, survey=survey, figures=SurveyFigures.objects.get(survey=survey))["overall"].n
        == 54
    )


def test_a_refresh_of_the_analysis_marks_every_stored_count_wanted(manager, answered_survey):
    from cartera.core import hooks
    from cartera.surveys.services.figures import figures_count

    survey, _lapse = answered_survey
    figures = figures_count(SurveyFigures.objects.create(survey=survey))
    assert not figures.stale()
    hooks.fire("analysis_refreshed", snapshot=None)
    figures.refresh_from_db()
    assert figures.stale()
