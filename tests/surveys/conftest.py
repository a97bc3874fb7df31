"""Fixtures of the surveys tests: an auditor, a checklist and an audit assigned to the auditor."""

from __future__ import annotations

import datetime as dt

import pytest


@pytest.fixture
def auditor(make_user):
    return make_user("auditor", "auditor", first_name="Alba", last_name="Auditora")


@pytest.fixture
def checklist(manager):
    from cartera.surveys.services.audits import audit_template_create

    return audit_template_create(actor=manager, name="Visita a tienda")


@pytest.fixture
def audit(manager, auditor, checklist):
    from cartera.surveys.services.audits import audit_create

    return audit_create(
        actor=manager,
        fields={
            "template": checklist,
            "auditor": auditor,
            "location": "Tienda Centro",
            "channel": "shop",
            "employee": "Pedro",
            "scheduled_on": dt.date(2026, 11, 20),
        },
    )


@pytest.fixture
def answer_everything():
    return _answer_everything


def _answer_everything(audit, actor, value_for=lambda c: c.scale_max):
    """Mark every criterion of ``audit`` (the best mark unless ``value_for`` says otherwise)."""
    from cartera.surveys.services.audits import audit_step_save

    for step in {c.step for c in audit.template.criteria.all()}:
        criteria = audit.template.criteria.filter(step=step)
        audit_step_save(
            actor=actor,
            audit=audit,
            step=step,
            answers={c.pk: {"value": str(value_for(c)), "na": False, "comment": ""} for c in criteria},
        )


@pytest.fixture
def png_bytes():
    return _png_bytes


def _png_bytes(size=(40, 30), color=(200, 30, 30)) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def nps_survey(manager):
    from cartera.surveys.services.surveys import survey_create

    return survey_create(actor=manager, fields={"name": "NPS relación", "kind": "nps", "cap_days": 90})


@pytest.fixture
def answer_url():
    """The public answer link of an invitation (path only)."""
    from django.urls import reverse

    from cartera.surveys.services.surveys import signed_token

    return lambda invitation: reverse("survey_answer", args=[signed_token(invitation)])
