"""The home page dashboard on the real CDNOW data: trends, alert, cohorts, Anticipate, follow-up."""

from __future__ import annotations

import json
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cartera.activity.models import Task
from cartera.insights.models import CustomerMetrics, PortfolioSnapshot
from cartera.segments.models import PortfolioFigures


def _json(body: str, element_id: str):
    match = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', body, re.S)
    assert match, element_id
    return json.loads(match.group(1))


def test_dashboard_draws_trends_from_snapshots(client, owner, analysed_portfolio):
    client.force_login(owner)
    client.cookies["django_language"] = "es"
    body = client.get(reverse("web:home")).content.decode()
    trend = _json(body, "trend-data")
    assert 6 <= len(trend) <= 24
    latest = PortfolioSnapshot.objects.order_by("-taken_on").first()
    assert trend[-1]["active"] == latest.active_base
    assert trend[-1]["month"] == "1998-06"
    assert sum(m["inactive"] + m["reactivated"] for m in trend) > 0 and all("churn" in m for m in trend)
    # The CDNOW cohort (first purchases Jan-Mar 1997) is older than the last 12 months; by June 1998
    # its customers lapse, so the active base shrinks and the alert shows.
    if trend[-1]["active"] < trend[-2]["active"]:
        assert 'id="shrink-alert"' in body
    abc = _json(body, "abc-data")
    assert {a["class"] for a in abc} == {"A", "B", "C"}
    assert round(sum(a["revenue"] for a in abc)) == round(
        float(sum(CustomerMetrics.objects.values_list("revenue", flat=True)))
    )
    assert "Clientes en riesgo" in body or "Anticipa" in body or 'id="anticipate"' in body
    for chart in ("chart-active", "chart-flows", "chart-churn", "chart-revenue", "chart-abc"):
        assert f'id="{chart}"' in body
    assert "web/charts.js" in body


def test_cohorts_are_computed_once_per_snapshot(client, owner, analysed_portfolio):
    from cartera.segments.services import figures_refresh

    figures = figures_refresh()
    cohorts = figures.cohorts["cohorts"]
    assert figures.cohorts["months"] == 12
    full = figures_refresh(snapshot=PortfolioSnapshot.objects.order_by("taken_on").first()).cohorts["cohorts"]
    assert [row["cohort"] for row in full] == ["1997-01", "1997-02", "1997-03"]  # the CDNOW cohort
    assert sum(row["size"] for row in full) == analysed_portfolio["customers"]
    assert full[0]["retention"][1] < 0.5
    assert all(row["retention"][0] == 1.0 for row in full)
    # Figures of a past day never remove the latest day's; the latest day's remove the older ones.
    assert PortfolioFigures.objects.count() == 2
    figures_refresh()
    assert PortfolioFigures.objects.count() == 1
    assert cohorts == [] or all(row["retention"][0] == 1.0 for row in cohorts)


def test_a_big_portfolio_shows_the_previous_figures_while_the_worker_computes_the_latest(
    client, owner, analysed_portfolio, settings, django_capture_on_commit_callbacks
):
    """At a million customers the figures take half a minute: a page view must not compute them (a
    production server would kill the request, and every worker on the home page would do the same).
    The pages show the previous figures with a notice, one task is queued whatever the views, and
    once the worker has run it the latest figures show."""
    from django_tasks_db.models import DBTaskResult

    from cartera.segments.services import figures_refresh
    from cartera.segments.tasks import compute_figures

    snapshots = PortfolioSnapshot.objects.order_by("-taken_on")
    latest, previous = snapshots[0], snapshots[1]
    figures_refresh(snapshot=previous)
    PortfolioFigures.objects.filter(taken_on=latest.taken_on).delete()  # a refresh that did not get to them
    settings.CARTERA_FIGURES_INLINE_MAX_CUSTOMERS = analysed_portfolio["customers"] - 1
    client.force_login(owner)
    for url in (reverse("web:home"), reverse("segments:pareto"), reverse("segments:rfm")):
        with django_capture_on_commit_callbacks(execute=True):
            page = client.get(url, headers={"Accept-Language": "es"})
        assert page.status_code == 200
        body = page.content.decode()
        assert 'id="figures-pending"' in body
        assert f"Estas cifras son del {previous.taken_on:%d/%m/%Y}" in body
    with django_capture_on_commit_callbacks(execute=True):
        english = client.get(reverse("web:home"), headers={"Accept-Language": "en"}).content.decode()
    assert "the latest ones are being computed in the background" in english
    assert not PortfolioFigures.objects.filter(taken_on=latest.taken_on).exists()
    queued = DBTaskResult.objects.filter(task_path=compute_figures.module_path)
    assert [job.status for job in queued] == ["READY"]  # four views, one task

    assert compute_figures.call().startswith(f"figures of {latest.taken_on} computed in ")
    assert PortfolioFigures.objects.filter(taken_on=latest.taken_on).exists()
    body = client.get(reverse("web:home")).content.decode()
    assert 'id="figures-pending"' not in body
    # A small portfolio still gets them at once, in the page view, with nothing queued.
    queued.delete()
    PortfolioFigures.objects.filter(taken_on=latest.taken_on).delete()
    settings.CARTERA_FIGURES_INLINE_MAX_CUSTOMERS = analysed_portfolio["customers"]
    assert 'id="figures-pending"' not in client.get(reverse("web:home")).content.decode()
    assert PortfolioFigures.objects.filter(taken_on=latest.taken_on).exists() and not queued.exists()


def test_dashboard_query_count_is_constant(client, owner, analysed_portfolio, django_assert_max_num_queries):
    client.force_login(owner)
    client.get(reverse("web:home"))  # computes the figures once
    with CaptureQueriesContext(connection) as first:
        assert client.get(reverse("web:home")).status_code == 200
    from django.utils import timezone

    from cartera.activity.services import task_create

    for i in range(1, 6):
        task_create(actor=owner, fields={"title": f"T{i}", "due_at": timezone.now()})
    with CaptureQueriesContext(connection) as second:
        client.get(reverse("web:home"))
    assert len(first) == len(second) and len(first) <= 16, [q["sql"] for q in second.captured_queries]


def test_anticipate_ranks_by_value_at_risk_and_creates_a_follow_up(client, owner, analysed_portfolio):
    client.force_login(owner)
    response = client.get(reverse("web:home"))
    rows = response.context["board"].anticipate
    assert rows, "CDNOW has customers at risk or declining"
    values = [r["value_at_risk"] for r in rows]
    assert values == sorted(values, reverse=True)
    assert all(r["metrics"].lifecycle == "at_risk" or r["metrics"].declining for r in rows)
    assert all(r["reason"] for r in rows)
    target = rows[0]["customer"]
    done = client.post(reverse("segments:follow_up", args=[target.pk]), headers={"HX-Request": "true"})
    assert done.status_code == 200 and target.full_name in done.content.decode()
    task = Task.objects.get(customer=target)
    assert task.assignee == owner and not task.done


def test_outsider_sees_no_figures_and_cannot_follow_up(client, outsider, analysed_portfolio):
    client.force_login(outsider)
    body = client.get(reverse("web:home")).content.decode()
    assert "trend-data" not in body and "Cliente 1" not in body
    assert client.post(reverse("segments:follow_up", args=[1])).status_code in (403, 404)
    assert not Task.objects.exists()


def test_home_lists_the_ten_most_overdue_tasks_and_says_how_many_more(client, owner, colleague):
    """A rep with a pile of overdue tasks sees the ten oldest on the home page and how many more there
    are (all of them, with their forms, on "My tasks"); tasks due later and a colleague's do not count."""
    import datetime as dt

    from django.utils import timezone

    from cartera.activity.services import task_create

    now = timezone.now()

    def add(title: str, due: dt.datetime, assignee=owner) -> None:
        task_create(actor=assignee, fields={"title": title, "due_at": due})

    for i in range(10):
        add(f"Vencida {i:02d}", now - dt.timedelta(days=30 - i))
    add("Para mañana", now + dt.timedelta(days=2))
    add("De Luis", now - dt.timedelta(days=40), assignee=colleague)
    client.force_login(owner)

    def home(language: str) -> str:
        return client.get(reverse("web:home"), headers={"accept-language": language}).content.decode()

    page = home("en")
    assert page.count('<li class="task') == 10 and "more task" not in page  # exactly ten: nothing more
    for i in range(3):
        add(f"Hoy {i}", now - dt.timedelta(minutes=i + 1))
    page = home("en")
    shown = re.findall(r'<span class="title">([^<]+)</span>', page)
    assert shown == [f"Vencida {i:02d}" for i in range(10)]  # the most overdue first
    assert "And 3 more tasks due today or overdue." in page and "Para mañana" not in page
    assert "Y 3 tareas más para hoy o vencidas." in home("es")
    Task.objects.filter(title__in=["Hoy 0", "Hoy 1"]).delete()
    assert "And 1 more task due today or overdue." in home("en")
