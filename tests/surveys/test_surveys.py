"""Surveys: invitations with signed tokens, the public answer page (one answer, editable 24 h, escaped,
rate-limited, in the customer's language), what an unhappy answer sets off, triggers with their cap,
and the results."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from cartera.activity.models import Task
from cartera.insights.models import CustomerMetrics
from cartera.surveys.models import Invitation, SurveyResponse
from cartera.surveys.selectors.surveys import (
    customer_standing,
    follow_up_effect,
    lapse_reasons,
    nps,
    results,
    share_satisfied,
)
from cartera.surveys.services.surveys import (
    invitation_create,
    next_working_day_end,
    response_record,
    survey_create,
)
from cartera.surveys.services.triggers import triggers_run


@pytest.fixture(autouse=True)
def _fresh_rate_limit():
    cache.clear()
    yield
    cache.clear()


def test_nps_and_satisfaction_intervals():
    score = nps([10] * 50 + [8] * 30 + [3] * 20)
    assert score.value == 30.0 and score.n == 100
    # Var = (p+ + p- - NPS^2) / n = (0.5 + 0.2 - 0.09) / 100 -> half width 1.96 * 0.0781 = 15.3 points.
    assert score.low == pytest.approx(14.7, abs=0.1) and score.high == pytest.approx(45.3, abs=0.1)
    csat = share_satisfied([5, 4, 4, 2, 1, 5, 3, 4, 5, 5], 4)
    assert csat.value == 70.0 and csat.low < 70.0 < csat.high and csat.low >= 0 and csat.high <= 100
    assert nps([]).value is None


def test_next_working_day_skips_the_weekend():
    friday = timezone.make_aware(dt.datetime(2026, 11, 27, 10, 0))
    due = timezone.localtime(next_working_day_end(friday))
    assert (due.date(), due.hour) == (dt.date(2026, 11, 30), 18)


def test_the_answer_page_takes_one_answer_and_a_detractor_opens_a_task(
    client, owner, customer, nps_survey, answer_url
):
    invitation = invitation_create(actor=None, survey=nps_survey, customer=customer)
    url = answer_url(invitation)
    page = client.get(url)
    assert page.status_code == 200 and "recomiendes" in page.content.decode()  # Spanish customer
    response = client.post(url, {"score": "3", "comment": "<script>alert('x')</script> Tardaron mucho"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "<script>alert" not in body and "&lt;script&gt;" in body
    answer = SurveyResponse.objects.get()
    task = Task.objects.get(customer=customer)
    assert answer.follow_up == task and task.assignee == owner
    assert task.due_at <= next_working_day_end(answer.answered_at)
    # Changing the answer keeps one answer and one task.
    client.post(url, {"score": "4", "comment": "Algo mejor"})
    assert SurveyResponse.objects.get().score == 4 and Task.objects.count() == 1


def test_an_answer_cannot_change_after_24_hours(customer, nps_survey):
    invitation = invitation_create(actor=None, survey=nps_survey, customer=customer)
    then = timezone.now() - dt.timedelta(hours=25)
    response_record(invitation=invitation, score=9, now=then)
    with pytest.raises(ValidationError):
        response_record(invitation=invitation, score=2)
    assert SurveyResponse.objects.get().score == 9


def test_bad_or_forged_tokens_are_404_and_rate_limited(client, customer, nps_survey, answer_url):
    invitation = invitation_create(actor=None, survey=nps_survey, customer=customer)
    good = answer_url(invitation)
    forged = good.replace(invitation.token[:4], "AAAA")
    assert client.get(forged).status_code == 404
    assert client.get("/s/" + invitation.token + "/").status_code == 404  # unsigned
    statuses = [client.get(f"/s/nope-{i}/").status_code for i in range(25)]
    # 20 unknown links per address in the window; the two above count too.
    assert statuses.count(404) == 18 and statuses[-7:] == [429] * 7


def test_out_of_range_scores_are_refused_with_a_message(client, customer, nps_survey, answer_url):
    url = answer_url(invitation_create(actor=None, survey=nps_survey, customer=customer))
    response = client.post(url, {"score": "11"})
    assert response.status_code == 400
    assert not SurveyResponse.objects.exists()


def test_english_customers_get_english(client, customer, nps_survey, answer_url):
    customer.country = "GB"
    customer.save()
    url = answer_url(invitation_create(actor=None, survey=nps_survey, customer=customer))
    assert "recommend" in client.get(url).content.decode()


def test_anonymous_surveys_keep_no_link_to_the_customer(manager, customer):
    survey = survey_create(actor=manager, fields={"name": "Anónima", "kind": "csat", "anonymous": True})
    response_record(invitation=invitation_create(actor=None, survey=survey, customer=customer), score=1)
    answer = SurveyResponse.objects.get()
    assert answer.customer is None and not Task.objects.exists()


def test_the_counter_link_takes_many_anonymous_answers(client, manager, nps_survey, answer_url):
    counter = invitation_create(actor=manager, survey=nps_survey, customer=None, channel="counter")
    for score in ("10", "9", "2"):
        client.post(answer_url(counter), {"score": score})
    assert SurveyResponse.objects.filter(customer__isnull=True).count() == 3
    assert not Task.objects.exists()


def test_lapse_survey_reasons_are_ranked(manager, customer, make_user):
    from cartera.customers.services import customer_create

    survey = survey_create(actor=manager, fields={"name": "¿Por qué?", "kind": "lapse"})
    for reason in ("price", "price", "service"):
        other = customer_create(
            actor=manager, fields={"first_name": f"C{reason}{timezone.now().timestamp()}"}
        )
        response_record(
            invitation=invitation_create(actor=None, survey=survey, customer=other), score=None, reason=reason
        )
    with pytest.raises(ValidationError):
        response_record(
            invitation=invitation_create(actor=None, survey=survey, customer=customer),
            score=None,
            reason="bored",
        )
    ranked = lapse_reasons(user=manager)
    assert [(r["reason"], r["count"]) for r in ranked] == [("price", 2), ("service", 1)]


def _metrics(customer, **fields):
    defaults = {"lifecycle": "active", "declining": False, "computed_at": timezone.now()}
    defaults.update(fields)
    return CustomerMetrics.objects.update_or_create(customer=customer, defaults=defaults)[0]


def test_declining_orders_trigger_a_survey_once_within_the_cap(manager, customer):
    survey = survey_create(
        actor=manager,
        fields={"name": "Bajan pedidos", "kind": "csat", "trigger": "declining", "cap_days": 60},
    )
    _metrics(customer, declining=True, decline_since=dt.date(2026, 10, 1))
    assert triggers_run() == {survey.pk: 1}
    invitation = Invitation.objects.get()
    assert (
        invitation.customer == customer
        and invitation.trigger == "declining"
        and invitation.channel == "email"
    )
    assert triggers_run() == {survey.pk: 0}  # the frequency cap
    Invitation.objects.update(created_at=timezone.now() - dt.timedelta(days=61))
    assert triggers_run() == {survey.pk: 1}


def test_the_refresh_hook_runs_the_triggers(manager, customer):
    from cartera.core import hooks

    survey = survey_create(actor=manager, fields={"name": "En riesgo", "kind": "nps", "trigger": "at_risk"})
    _metrics(customer, lifecycle="at_risk")
    hooks.fire("analysis_refreshed", snapshot=None)
    assert Invitation.objects.filter(survey=survey, customer=customer).exists()


def test_standing_results_and_follow_up_effect(manager, owner, customer, nps_survey):
    from cartera.activity.services import task_set_done
    from cartera.sales.services import order_create

    answer = response_record(
        invitation=invitation_create(actor=None, survey=nps_survey, customer=customer), score=2
    )
    standing = customer_standing(user=owner, customer=customer)
    assert standing["unhappy"] and standing["last_score"] == 2 and not standing["referral_candidate"]
    task_set_done(actor=owner, task=answer.follow_up, done=True)
    order_create(
        actor=owner, customer=customer, fields={"ordered_on": timezone.localdate(), "amount": "20.00"}
    )
    effect = follow_up_effect(user=manager)
    assert effect["followed"] == {"customers": 1, "came_back": 1, "rate": 100.0}
    assert effect["not_followed"]["customers"] == 0
    block = results(user=manager, survey=nps_survey)
    assert block["overall"].value == -100.0 and block["invited"] == 1 and block["answered"] == 1


def test_customer_page_timeline_and_dashboard_show_the_unhappy_answer(client, owner, customer, nps_survey):
    _metrics(customer, lifecycle="active")
    response_record(
        invitation=invitation_create(actor=None, survey=nps_survey, customer=customer),
        score=3,
        comment="Muy lento",
    )
    client.force_login(owner)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "Muy lento" in page and "Survey answer" in page or "Respuesta a encuesta" in page
    assert "Unhappy" in page or "Descontento" in page


def test_api_standing_and_answers(client, owner, customer, nps_survey):
    response_record(invitation=invitation_create(actor=None, survey=nps_survey, customer=customer), score=10)
    client.force_login(owner)
    standing = client.get(f"/api/surveys/customers/{customer.pk}/standing").json()
    assert standing["last_score"] == 10 and standing["referral_candidate"] is True
    answers = client.get("/api/surveys/responses").json()
    assert [a["score"] for a in answers] == [10]
    assert client.get("/api/surveys/customers/999999/standing").status_code == 404


def test_manager_pages_invite_and_qr(client, manager, customer, nps_survey):
    client.force_login(manager)
    client.post(reverse("surveys:invite", args=[nps_survey.pk]), {})
    counter = Invitation.objects.get(open=True)
    client.post(
        reverse("surveys:invite", args=[nps_survey.pk]), {"customer": customer.pk, "channel": "phone"}
    )
    assert Invitation.objects.filter(customer=customer, channel="phone").exists()
    page = client.get(reverse("surveys:detail", args=[nps_survey.pk])).content.decode()
    assert "/s/" in page
    qr = client.get(reverse("surveys:qr", args=[nps_survey.pk]) + f"?i={counter.pk}")
    assert qr["Content-Type"] == "image/svg+xml" and b"<svg" in qr.content
    for name in ("surveys:list", "surveys:results", "surveys:verbatims", "surveys:new"):
        assert client.get(reverse(name)).status_code == 200


def test_unhappy_customers_come_first_in_the_dashboards_at_risk_list(manager, owner, customer, nps_survey):
    from cartera.customers.services import customer_create
    from cartera.segments.models import PortfolioFigures
    from cartera.web.selectors import _anticipate

    at_risk = customer_create(actor=owner, fields={"first_name": "Riesgo"})
    _metrics(at_risk, lifecycle="at_risk")
    _metrics(customer, lifecycle="active")
    now = timezone.now()
    figures = PortfolioFigures(
        taken_on=now.date(), snapshot_computed_at=now, computed_at=now, at_risk_ids=[at_risk.pk]
    )
    assert [r["customer"] for r in _anticipate(manager, figures)] == [at_risk]
    response_record(invitation=invitation_create(actor=None, survey=nps_survey, customer=customer), score=1)
    rows = _anticipate(manager, figures)
    assert [r["customer"] for r in rows] == [customer, at_risk]
    assert rows[0]["unhappy"] and "1" in rows[0]["reason"]


def test_the_surveys_command_runs_the_triggers_and_lists_audit_scores(manager, customer):
    import io

    from django.core.management import call_command

    survey_create(actor=manager, fields={"name": "Perdidos", "kind": "lapse", "trigger": "lapsed"})
    _metrics(customer, lifecycle="lost")
    out = io.StringIO()
    call_command("surveys", "triggers", stdout=out)
    assert "Perdidos: 1" in out.getvalue()
    out = io.StringIO()
    call_command("surveys", "audits", "--as-user", "manager", stdout=out)
    assert out.getvalue() == ""
