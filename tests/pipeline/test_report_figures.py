"""The bottleneck report and the source attribution of a big pipeline and a big file: counted by the
worker, read back by the page with their time, counted again when the data changes (a move, an edit,
a deletion, a refresh), always the same figures as counting them in the page would give; a user who
does not see every row always gets their own, counted for them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django_tasks_db.models import DBTaskResult

from cartera.pipeline import selectors, services
from cartera.pipeline.models import Opportunity, ReportFigures
from cartera.pipeline.tasks import count_report_figures
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture
def big(settings):
    """Every pipeline and every file counts as big."""
    settings.CARTERA_REPORT_INLINE_OPPORTUNITIES = 1
    settings.CARTERA_REPORT_INLINE_CUSTOMERS = 0


def _queued() -> int:
    return DBTaskResult.objects.filter(task_path=count_report_figures.module_path, status="READY").count()


def _page(client, pipeline, capture):
    with capture(execute=True):
        page = client.get(f"/pipeline/report/?pipeline={pipeline.pk}")
    assert page.status_code == 200
    return page


def test_the_worker_counts_a_big_report_and_the_page_reads_it_back(
    client, history, big, owner, manager, django_capture_on_commit_callbacks
):
    pipeline, s = history
    capture = django_capture_on_commit_callbacks
    login(client, manager)
    first = _page(client, pipeline, capture)
    # Nothing stored yet: the pipeline's history counted for this page, and kept for the next ones;
    # where the revenue comes from (every customer, every order of their first year) left to the
    # worker, the page saying so.
    assert first.context["history_counted"].as_of is None and 'id="history-counted"' not in first.text
    assert first.context["attribution_counted"].pending and 'id="attribution-counted"' in first.text
    assert first.context["attribution"].by_source == [] and _queued() == 1
    assert set(ReportFigures.objects.values_list("key", flat=True)) == {
        f"bottlenecks:{pipeline.pk}:all",
        "attribution",
    }
    assert count_report_figures.call().startswith("attribution counted in")
    DBTaskResult.objects.all().delete()  # the worker took it
    second = _page(client, pipeline, capture)
    assert 'id="history-counted"' in second.text and 'id="attribution-counted"' in second.text
    assert not second.context["history_counted"].pending and _queued() == 0
    # The stored figures are the ones the page would count.
    assert second.context["report"] == selectors.bottleneck_report(user=manager, pipeline=pipeline)
    assert second.context["attribution"] == selectors.source_attribution(user=manager)
    assert second.context["report"].stages[0].entered == 4

    # A move: the page shows what was counted (and says newer changes are being counted), the open
    # opportunities as of now, and queues the worker once however many look.
    fresh = Opportunity.objects.get(title="fresh")
    with capture(execute=True):
        services.opportunity_move(actor=owner, opportunity=fresh, stage=s[1])
    page = _page(client, pipeline, capture)
    _page(client, pipeline, capture)
    assert page.context["history_counted"].pending and page.context["attribution_counted"].pending
    assert page.context["report"].stages[1].entered == 3  # the stored count
    assert page.context["report"].stages[1].open_now == 2  # as of now
    assert _queued() == 1
    assert f"bottlenecks:{pipeline.pk}:all" in count_report_figures.call()
    page = _page(client, pipeline, capture)
    assert not page.context["history_counted"].pending
    assert page.context["report"].stages[1].entered == 4
    assert page.context["report"] == selectors.bottleneck_report(user=manager, pipeline=pipeline)
    assert count_report_figures.call() == "every report figure is current"

    # Editing a won opportunity, deleting one: seen too.
    won = Opportunity.objects.get(title="won")
    with capture(execute=True):
        services.opportunity_update(actor=owner, opportunity=won, fields={"value": Decimal("4000")})
    assert _page(client, pipeline, capture).context["history_counted"].pending
    count_report_figures.call()
    assert _page(client, pipeline, capture).context["report"].by_source[0].won_value == Decimal("4000")
    with capture(execute=True):
        services.opportunity_delete(actor=manager, opportunity=Opportunity.objects.get(title="lost"))
    assert _page(client, pipeline, capture).context["history_counted"].pending
    count_report_figures.call()
    page = _page(client, pipeline, capture)
    assert page.context["report"].lost == 0
    assert page.context["report"] == selectors.bottleneck_report(user=manager, pipeline=pipeline)

    # The owner filter is stored on its own; a refresh of the analysis asks for everything again.
    with capture(execute=True):
        client.get(f"/pipeline/report/?pipeline={pipeline.pk}&owner={owner.pk}")
    assert ReportFigures.objects.filter(key=f"bottlenecks:{pipeline.pk}:{owner.pk}").exists()
    with capture(execute=True):
        assert services.report_figures_wanted() == 3
    assert _page(client, pipeline, capture).context["history_counted"].pending
    count_report_figures.call()
    # A new order of the stages changes what "went on" means: the stored history is counted again.
    assert not _page(client, pipeline, capture).context["history_counted"].pending
    with capture(execute=True):
        services.pipeline_stages_update(
            actor=manager, pipeline=pipeline,
            stages="\n".join(f"{st.name} | {st.probability} | {st.rotting_days or ''}" for st in reversed(s)),
        )  # fmt: skip
    assert _page(client, pipeline, capture).context["history_counted"].pending


def test_a_rep_gets_their_own_figures_counted_for_them(
    client, history, big, owner, colleague, manager, django_capture_on_commit_callbacks
):
    pipeline, _s = history
    login(client, manager)
    _page(client, pipeline, django_capture_on_commit_callbacks)  # the shared figures, stored
    count_report_figures.call()
    DBTaskResult.objects.all().delete()  # the worker took it
    login(client, colleague)  # sees none of the owner's opportunities
    page = _page(client, pipeline, django_capture_on_commit_callbacks)
    assert page.context["history_counted"].as_of is None and page.context["attribution_counted"].as_of is None
    assert page.context["report"].stages[0].entered == 0 and page.context["report"].won == 0
    assert ReportFigures.objects.count() == 2 and _queued() == 0


def test_small_pipelines_are_counted_in_the_page(
    client, history, owner, manager, django_capture_on_commit_callbacks
):
    pipeline, _s = history
    login(client, manager)
    page = _page(client, pipeline, django_capture_on_commit_callbacks)
    assert page.context["history_counted"].as_of is None and not ReportFigures.objects.exists()
    csv = client.get("/pipeline/report/sources.csv")
    assert csv.status_code == 200
