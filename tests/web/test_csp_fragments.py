"""What htmx swaps into a page obeys the Content-Security-Policy: no inline script, no ``<style>``
element or ``style=`` attribute, no ``on*=`` handler, no ``javascript:`` address. The page's nonce
does not cover a fragment, so the browser would block any of those (and log an error) after a swap.

Every route a template names in ``hx-get`` / ``hx-post`` is listed here with a real request; a new
one that is not fails the first test.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "cartera"
HX_URL = re.compile(r"""hx-(?:get|post)="\{%\s*url\s+'([\w:]+)'""")
# ``{{ rebuild_url }}``: the segment and persona builders (segments:new / edit, persona_new / edit).
HX_VARIABLE = re.compile(r"""hx-(?:get|post)="\{\{\s*rebuild_url\s*\}\}""")


class _Audit(HTMLParser):
    """Collects what the CSP would block in a piece of HTML."""

    def __init__(self) -> None:
        super().__init__()
        self.blocked: list[str] = []
        self._script_src: bool | None = None
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags += 1
        values = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.blocked.append(f"<{tag} {name}=…>")
            if name == "style":
                self.blocked.append(f"<{tag} style=“{value}”>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.blocked.append(f"<{tag} {name}=javascript:…>")
        if tag == "style":
            self.blocked.append("<style> element")
        if tag == "script":
            # Data for the page's own scripts (json_script) is not run, so the CSP lets it be.
            kind = (values.get("type") or "").lower()
            self._script_src = bool(values.get("src")) or kind in ("application/json", "application/ld+json")
            if not self._script_src:
                self.blocked.append("inline <script>")


def blocked_by_csp(html: str) -> list[str]:
    audit = _Audit()
    audit.feed(html)
    assert audit.tags, "not HTML"
    return audit.blocked


def test_the_audit_catches_what_the_csp_blocks():
    assert (
        blocked_by_csp('<div><script type="application/json">{}</script><script src="/s.js"></script></div>')
        == []
    )
    found = blocked_by_csp(
        '<p style="color:red" onclick="x()"><style>p{}</style><script>alert(1)</script>'
        '<a href="javascript:void(0)">x</a></p>'
    )
    assert len(found) == 5, found


@pytest.fixture
def fragments(owner, colleague, manager, customer):
    """A real request (method, url, data, HX-Target) for every route the templates swap in."""
    from cartera.activity.services import task_create
    from cartera.campaigns.services import campaign_create, campaign_send
    from cartera.imports.services import import_job_create
    from cartera.pipeline.models import PipelineStage
    from cartera.pipeline.services import opportunity_create, pipeline_defaults_ensure
    from cartera.segments.services import persona_create, segment_create
    from tests.campaigns.conftest import build_portfolio
    from tests.campaigns.test_campaign_flow import SETTINGS

    rule = {"groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": "Madrid"}]}]}
    segment = segment_create(actor=manager, fields={"name": "Madrid", "definition": rule})
    persona = persona_create(actor=manager, fields={"name": "Madrileños", "definition": rule})
    # A sending campaign (a draft has no progress to show).
    campaign = campaign_create(
        actor=manager, fields=SETTINGS, segments=[build_portfolio(owner, colleague, manager)["inactive"]]
    )
    campaign_send(actor=manager, campaign=campaign)

    job = import_job_create(
        actor=manager,
        upload=io.BytesIO(b"nombre;email\nAna;ana@example.es\n"),
        file_name="a.csv",
        kind="customers",
    )
    from cartera.imports.services import export_job_create

    export = export_job_create(actor=manager, kind="customers", file_format="xlsx", filters={})
    pipeline_defaults_ensure()
    opportunity = opportunity_create(actor=owner, fields={"customer": customer, "title": "Renovación"})
    stage = PipelineStage.objects.get(pk=opportunity.stage_id)
    task = task_create(
        actor=owner, fields={"title": "Llamar", "customer": customer, "due_at": timezone.now()}
    )
    builder = {
        "name": "Madrid",
        "g0-match": "all",
        "g0-r0-field": "region",
        "g0-r0-op": "eq",
        "g0-r0-value": "Sur",
    }
    today = timezone.localdate().isoformat()
    c = customer.pk
    return {
        "customers:list": ("get", reverse("customers:list") + "?q=luc", {}, "results"),
        "pipeline:column": ("get", reverse("pipeline:column", args=[stage.pk]), {}, ""),
        "imports:progress": ("get", reverse("imports:progress", args=[job.pk]), {}, ""),
        "campaigns:progress": ("get", reverse("campaigns:progress", args=[campaign.pk]), {}, ""),
        "imports:export_progress": ("get", reverse("imports:export_progress", args=[export.pk]), {}, ""),
        "segments:count": ("post", reverse("segments:count"), builder, ""),
        "segments:follow_up": ("post", reverse("segments:follow_up", args=[c]), {}, ""),
        "sales:order_create": ("post", reverse("sales:order_create", args=[c]),
                               {"ordered_on": today, "amount": "49,90", "currency": "EUR"}, ""),
        "pipeline:call_log": ("post", reverse("pipeline:call_log", args=[c]), {"outcome": "no_answer"}, ""),
        "customers:stage_change": ("post", reverse("customers:stage_change", args=[c]), {"stage": "prospect"}, ""),
        "activity:task_snooze": ("post", reverse("activity:task_snooze", args=[task.pk]),
                                 {"until": (timezone.localdate() + dt.timedelta(days=2)).isoformat()}, ""),
        "activity:task_toggle": ("post", reverse("activity:task_toggle", args=[task.pk]), {}, ""),
        "activity:task_create": ("post", reverse("activity:task_create", args=[c]),
                                 {"title": "Enviar presupuesto", "due_at": f"{today}T10:00"}, ""),
        "activity:interaction_create": ("post", reverse("activity:interaction_create", args=[c]),
                                        {"kind": "call", "subject": "Llamada"}, ""),
        "segments:new": ("post", reverse("segments:new"), {**builder, "action": "add_rule:0"}, "builder"),
        "segments:edit": ("post", reverse("segments:edit", args=[segment.pk]), {**builder, "action": "add_group"},
                          "builder"),
        "segments:persona_new": ("post", reverse("segments:persona_new"), {**builder, "action": "add_rule:0"},
                                 "builder"),
        "segments:persona_edit": ("post", reverse("segments:persona_edit", args=[persona.pk]),
                                  {**builder, "action": "add_rule:0"}, "builder"),
    }  # fmt: skip


def test_every_swapped_route_is_listed(fragments):
    named: set[str] = set()
    variable = False
    for template in TEMPLATES.rglob("templates/**/*.html"):
        text = template.read_text()
        named |= set(HX_URL.findall(text))
        variable = variable or bool(HX_VARIABLE.search(text))
    assert variable, "the builders' rebuild_url is no longer used: drop its rows"
    missing = named - set(fragments)
    assert not missing, f"routes swapped by htmx with no request in this test: {sorted(missing)}"


def test_no_fragment_carries_what_the_csp_blocks(client, manager, fragments):
    client.force_login(manager)
    problems = []
    for name, (method, url, data, target) in fragments.items():
        headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/"}
        if target:
            headers["HX-Target"] = target
        response = getattr(client, method)(url, data, headers=headers)
        assert response.status_code in (200, 400, 422), (name, response.status_code)
        html = response.content.decode()
        assert html.strip(), f"{name} answered nothing"
        blocked = blocked_by_csp(html)
        if blocked:
            problems.append(f"{name} ({url}): {blocked[:5]}")
    assert not problems, "\n".join(problems)
