"""Surveys and service audits in the browser, in Spanish and in English, on a phone and on a desktop:
an auditor fills a checklist on a phone (a failed save loses nothing) and the manager sees the score
and turns a finding into a corrective task; a customer answers 3 on the public page, which opens a task
for the owner and shows on the customer's page and the dashboard."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.browser.conftest import PATIENCE_MS

pytestmark = pytest.mark.browser


@pytest.fixture(params=["es-ES", "en-US"])
def browser_locale(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _patient(context: Any) -> Any:
    """These walks post a dozen forms each; on a loaded machine (CI shares its cores) a page may take
    more than the suite's default fifteen seconds, which would fail the walk for nothing."""
    context.set_default_timeout(30_000)
    expect.set_options(timeout=30_000)
    yield
    expect.set_options(timeout=PATIENCE_MS)


def tr(lang: str, msgid: str) -> str:
    from django.utils import translation

    with translation.override(lang):
        return translation.gettext(msgid)


@pytest.fixture
def assigned_audit(transactional_db, manager):
    from cartera.accounts.services import user_create
    from cartera.surveys.services.audits import audit_create, audit_template_create

    auditor = user_create(username="auditor", password="s3cret-pass-123", role="auditor", first_name="Alba")
    template = audit_template_create(actor=manager, name="Visita a tienda")
    return audit_create(
        actor=manager,
        fields={"template": template, "auditor": auditor, "location": "Tienda Centro", "channel": "shop",
                "employee": "Pedro", "scheduled_on": dt.date.today()},
    )  # fmt: skip


def _log_out(page: Any) -> None:
    page.context.clear_cookies()


def test_auditor_fills_a_checklist_on_a_phone_and_the_manager_sees_score_and_tasks(
    page, owner, assigned_audit, login, browser_log, shot, sideways_overflow, browser_locale
):
    from cartera.activity.models import Task
    from cartera.surveys.models import AuditStatus

    lang = browser_locale[:2]
    audit = assigned_audit
    login("auditor")
    page.goto("/surveys/audits/")
    assert (problem := sideways_overflow("audit list")) is None, problem
    page.get_by_role("link", name="Tienda Centro").first.click()
    page.get_by_role("link", name=tr(lang, "Fill in")).click()
    steps = list(dict.fromkeys(c.step for c in audit.template.criteria.all()))
    for index, step in enumerate(steps):
        expect(page).to_have_url(re.compile(rf"/step/{step}/$"))
        for criterion in audit.template.criteria.filter(step=step):
            best = str(criterion.scale_max)
            page.locator(f"input[name=value-{criterion.pk}][value='{best}']").check()
        if index == 1:
            # No signal: the save fails, and nothing typed is lost once the page is opened again.
            page.locator(f"input[name=comment-{criterion.pk}]").fill("Muy amable")
            page.context.set_offline(True)
            # The browser's own "no connection" error is the point, whether or not the click reports it.
            with contextlib.suppress(PlaywrightError):
                page.get_by_role("button", name=tr(lang, "Save and next →")).click()
            page.context.set_offline(False)
            page.goto(f"/surveys/audits/{audit.pk}/step/{step}/")
            expect(page.locator(f"input[name=comment-{criterion.pk}]")).to_have_value("Muy amable")
            expect(
                page.locator(f"input[name=value-{criterion.pk}][value='{criterion.scale_max}']")
            ).to_be_checked()
            expect(page.locator(".draft-note")).to_be_visible()
        if index == 0:
            assert (problem := sideways_overflow("audit step")) is None, problem
            shot(f"audit-step-{lang}")
        last = index == len(steps) - 1
        page.get_by_role("button", name=tr(lang, "Save and review" if last else "Save and next →")).click()
    page.get_by_role("button", name=tr(lang, "Submit the audit")).click()
    expect(page.get_by_test_id("audit-score")).to_contain_text("100")
    audit.refresh_from_db()
    assert audit.status == AuditStatus.SUBMITTED and audit.answers.filter(comment="Muy amable").exists()
    # The auditor sees no customer data.
    assert page.get_by_role("link", name=tr(lang, "Customers")).count() == 0

    _log_out(page)
    login("manager")
    page.goto(f"/surveys/audits/{audit.pk}/")
    expect(page.get_by_test_id("audit-score")).to_contain_text("100")
    page.locator("input[name=title]").fill("Repasar la bienvenida con Pedro")
    page.locator("select[name=assignee]").select_option(label=str(owner))
    page.get_by_role("button", name=tr(lang, "Create the corrective task")).click()
    expect(page.locator(".findings")).to_contain_text("Repasar la bienvenida con Pedro")
    assert Task.objects.get(title="Repasar la bienvenida con Pedro").assignee == owner
    assert (problem := sideways_overflow("audit report")) is None, problem
    shot(f"audit-report-{lang}")
    page.goto("/surveys/audits/results/")
    expect(page.locator("body")).to_contain_text("Tienda Centro")
    assert (problem := sideways_overflow("audit scores")) is None, problem
    shot(f"audit-scores-{lang}")
    browser_log.assert_clean()


@pytest.fixture
def invited_customer(transactional_db, owner, manager):
    from django.utils import timezone

    from cartera.customers.services import customer_create
    from cartera.insights.models import CustomerMetrics
    from cartera.surveys.services.surveys import invitation_create, survey_create

    customer = customer_create(
        actor=owner, fields={"first_name": "Lucía", "last_name": "Martínez", "country": "ES"}
    )
    CustomerMetrics.objects.create(customer=customer, lifecycle="active", computed_at=timezone.now())
    survey = survey_create(actor=manager, fields={"name": "NPS tras pedido", "kind": "nps"})
    return customer, invitation_create(actor=None, survey=survey, customer=customer)


def test_answering_3_opens_a_task_for_the_owner_and_shows_on_the_customer(
    page, owner, invited_customer, login, browser_log, shot, sideways_overflow, browser_locale
):
    from cartera.activity.models import Task
    from cartera.surveys.services.surveys import signed_token

    lang = browser_locale[:2]
    customer, invitation = invited_customer
    if lang == "en":
        invitation.language = "en"
        invitation.save()
    page.goto(f"/s/{signed_token(invitation)}/")
    expect(page.locator("h1")).to_contain_text(
        tr(lang, "How likely are you to recommend us to a friend or colleague?")
    )
    assert (problem := sideways_overflow("answer page")) is None, problem
    shot(f"answer-{lang}")
    page.locator("label", has_text=re.compile(r"^\s*3\s*$")).click()
    page.locator("textarea[name=comment]").fill("Tardaron <b>dos semanas</b> en entregar")
    page.get_by_role("button", name=tr(lang, "Send")).click()
    expect(page.locator("h1").first).to_have_text(tr(lang, "Thank you!"))
    shot(f"answer-thanks-{lang}")
    task = Task.objects.get(customer=customer)
    assert task.assignee == owner

    login("owner")
    page.goto(f"/customers/{customer.pk}/")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text(tr(lang, "Survey answer"))
    expect(timeline).to_contain_text("Tardaron <b>dos semanas</b> en entregar")  # shown as text, escaped
    expect(page.locator("#status")).to_contain_text(tr(lang, "unhappy"))
    expect(timeline).to_contain_text(task.title)
    assert (problem := sideways_overflow("customer page")) is None, problem
    shot(f"customer-unhappy-{lang}")
    browser_log.assert_clean()


def test_declining_orders_e_mail_a_survey_whose_answer_reaches_the_owner_and_the_dashboard(
    page, transactional_db, owner, manager, login, browser_log, shot, sideways_overflow, browser_locale, smtp
):
    """The whole walk of the issue: a customer's orders decline, the refresh notices and its hook sends
    the declining-orders survey by e-mail (a real SMTP server receives it), the customer opens the link
    from that e-mail on a phone or a desktop and answers 3, and the owner finds the follow-up task, the
    answer on the customer's page and the customer first in the dashboard's "anticipate" list."""
    from django.utils import timezone

    from cartera.activity.models import Task
    from cartera.customers.services import customer_create
    from cartera.insights.models import CustomerMetrics
    from cartera.insights.services import insights_refresh
    from cartera.messaging.services import deliver_pending
    from cartera.privacy.services import consent_record
    from cartera.sales.services import order_create
    from cartera.surveys.services.surveys import survey_create

    lang = browser_locale[:2]
    today = timezone.localdate()
    lucia = customer_create(
        actor=owner,
        fields={"first_name": "Lucía", "last_name": "Martínez", "email": "lucia@example.es",
                "country": "ES" if lang == "es" else "GB"},
    )  # fmt: skip
    consent_record(
        actor=owner, customer=lucia, channel="email", purpose="surveys", granted=True, source="form",
        wording="Acepto responder encuestas", version="t1",
    )  # fmt: skip
    # Every week for eight months, then twice in the last four: fewer orders than she used to place.
    days = [*range(360, 120, -7), 70, 25]
    for k, ago in enumerate(days):
        order_create(actor=owner, customer=lucia, fields={"ordered_on": today - dt.timedelta(days=ago),
                                                         "amount": f"{30 + k % 5}.00"})  # fmt: skip
    for i in range(10):  # a portfolio around her, buying as usual
        other = customer_create(actor=owner, fields={"first_name": f"Cliente {i}"})
        for ago in range(20 + 3 * i, 360, 45):
            order_create(actor=owner, customer=other, fields={"ordered_on": today - dt.timedelta(days=ago),
                                                             "amount": "40.00"})  # fmt: skip
    survey_create(
        actor=manager,
        fields={"name": "¿Qué tal vamos?", "kind": "nps", "trigger": "declining", "cap_days": 60},
    )
    insights_refresh(as_of=today)
    assert CustomerMetrics.objects.get(customer=lucia).declining
    assert deliver_pending().sent == 1
    [mail] = smtp.received
    assert mail.rcpt_tos == ["lucia@example.es"]
    text = mail.text()
    assert text.startswith("Hola Lucía," if lang == "es" else "Hello Lucía,"), text
    link = re.search(r"https://cartera\.example(/s/\S+/)", text)
    assert link, text

    page.goto(link.group(1))
    expect(page.locator("h1")).to_contain_text(
        tr(lang, "How likely are you to recommend us to a friend or colleague?")
    )
    assert (problem := sideways_overflow("answer page from the e-mail")) is None, problem
    page.locator("label", has_text=re.compile(r"^\s*3\s*$")).click()
    page.get_by_role("button", name=tr(lang, "Send")).click()
    expect(page.locator("h1").first).to_have_text(tr(lang, "Thank you!"))
    task = Task.objects.get(customer=lucia)
    assert task.assignee == owner

    login("owner")
    page.goto("/")
    first = page.locator("#anticipate .risk-list li").first
    expect(first).to_contain_text("Lucía Martínez")
    expect(first.locator(".badge.overdue")).to_have_text(tr(lang, "unhappy"))
    shot(f"dashboard-unhappy-{lang}")
    page.goto(f"/customers/{lucia.pk}/")
    expect(page.locator("#timeline")).to_contain_text(tr(lang, "Survey answer"))
    expect(page.locator("#status")).to_contain_text(tr(lang, "unhappy"))
    expect(page.locator("#timeline")).to_contain_text(task.title)
    assert (problem := sideways_overflow("customer page")) is None, problem
    browser_log.assert_clean()
