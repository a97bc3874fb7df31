"""Service-quality audits: versioned checklists, the auditor's scope, answers kept step by step, photos
re-encoded, the score, corrective tasks and the results by location over time."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from cartera.activity.models import Task
from cartera.surveys.models import Audit, AuditAnswer, AuditPhoto, AuditStatus, AuditTemplate
from cartera.surveys.selectors.audits import score_trends, weak_criteria
from cartera.surveys.services.audits import (
    audit_create,
    audit_criterion_add,
    audit_finding_create,
    audit_photo_add,
    audit_step_save,
    audit_submit,
)


def test_editing_a_used_checklist_makes_a_new_version_and_old_audits_keep_theirs(manager, checklist, audit):
    before = checklist.criteria.count()
    version = audit_criterion_add(
        actor=manager,
        template=checklist,
        fields={"step": "sale", "text": "Ofreció envolver el regalo", "weight": 1, "scale_max": 1},
    )
    assert version.pk != checklist.pk and version.family == checklist.family and version.version == 2
    checklist.refresh_from_db()
    assert not checklist.current and checklist.criteria.count() == before
    assert version.criteria.count() == before + 1
    audit.refresh_from_db()
    assert audit.template == checklist
    # An unused version is edited in place.
    again = audit_criterion_add(
        actor=manager,
        template=version,
        fields={"step": "advice", "text": "Otra", "weight": 2, "scale_max": 5},
    )
    assert again.pk == version.pk


def test_a_step_save_keeps_the_valid_answers_and_reports_the_bad_one(auditor, audit):
    first, second = audit.template.criteria.filter(step="first_contact")
    result = audit_step_save(
        actor=auditor,
        audit=audit,
        step="first_contact",
        answers={
            first.pk: {"value": "1", "na": False, "comment": "Rápido"},
            second.pk: {"value": "9", "na": False},
        },
    )
    assert result.saved == 1 and list(result.errors) == [second.pk]
    assert AuditAnswer.objects.get(audit=audit, criterion=first).comment == "Rápido"
    assert not AuditAnswer.objects.filter(audit=audit, criterion=second).exists()
    audit.refresh_from_db()
    assert audit.status == AuditStatus.IN_PROGRESS


def test_only_the_assigned_auditor_fills_in_and_nothing_after_submission(
    auditor, make_user, audit, answer_everything
):
    other = make_user("otro", "auditor")
    criterion = audit.template.criteria.first()
    with pytest.raises(PermissionDenied):
        audit_step_save(actor=other, audit=audit, step=criterion.step, answers={criterion.pk: {"value": "1"}})
    answer_everything(audit, auditor)
    audit_submit(actor=auditor, audit=audit)
    with pytest.raises(ValidationError):
        audit_step_save(
            actor=auditor, audit=audit, step=criterion.step, answers={criterion.pk: {"value": "1"}}
        )


def test_submitting_needs_every_criterion_and_stores_the_weighted_score(auditor, audit, answer_everything):
    with pytest.raises(ValidationError):
        audit_submit(actor=auditor, audit=audit)
    # Best marks everywhere but "Greeted within one minute" (weight 2, yes/no) answered "no".
    greeted = audit.template.criteria.get(scale_max=1, step="first_contact")
    answer_everything(audit, auditor, lambda c: 0 if c.pk == greeted.pk else c.scale_max)
    audit_submit(actor=auditor, audit=audit)
    audit.refresh_from_db()
    total = sum(c.weight for c in audit.template.criteria.all())
    assert audit.status == AuditStatus.SUBMITTED
    assert audit.score == Decimal(str(round(100 * (total - 2) / total, 1)))


def test_not_applicable_criteria_do_not_count(auditor, audit, answer_everything):
    complaint = audit.template.criteria.get(step="complaint")
    answer_everything(audit, auditor)
    audit_step_save(
        actor=auditor, audit=audit, step="complaint", answers={complaint.pk: {"value": "", "na": True}}
    )
    audit_submit(actor=auditor, audit=audit)
    audit.refresh_from_db()
    assert audit.score == Decimal("100.0")


def test_photos_are_reencoded_and_anything_else_refused(auditor, audit, png_bytes):
    photo = audit_photo_add(actor=auditor, audit=audit, step="sale", upload=io.BytesIO(png_bytes()))
    assert bytes(photo.image)[:3] == b"\xff\xd8\xff"  # JPEG, whatever came in
    assert (photo.width, photo.height) == (40, 30)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    html = b"<html><body><img src=x onerror=alert(1)></body></html>"
    for bad in (svg, html, b"GIF89a" + b"\x00" * 20):
        with pytest.raises(ValidationError):
            audit_photo_add(actor=auditor, audit=audit, step="sale", upload=io.BytesIO(bad))
    assert AuditPhoto.objects.count() == 1


def test_findings_become_tasks_with_owner_and_due_date(manager, owner, audit):
    criterion = audit.template.criteria.first()
    due = timezone.now() + dt.timedelta(days=5)
    finding = audit_finding_create(
        actor=manager,
        audit=audit,
        title="Formar en bienvenida",
        assignee=owner,
        due_at=due,
        criterion=criterion,
    )
    task = Task.objects.get(pk=finding.task_id)
    assert task.assignee == owner and task.due_at == due and "Tienda Centro" in task.notes


def test_scores_over_time_and_weak_criteria(manager, auditor, checklist, answer_everything):
    for month, value in ((9, 5), (10, 3)):
        audit = audit_create(
            actor=manager,
            fields={"template": checklist, "auditor": auditor, "location": "Norte", "channel": "phone",
                    "scheduled_on": dt.date(2026, month, 3)},
        )  # fmt: skip
        answer_everything(audit, auditor, lambda c, v=value: c.scale_max if c.scale_max == 1 else v)
        audit_submit(actor=auditor, audit=audit)
    trends = score_trends(user=manager, dimension="location", since=dt.date(2026, 1, 1))
    assert [r["name"] for r in trends] == ["Norte"]
    assert [p["month"] for p in trends[0]["points"]] == ["2026-09", "2026-10"]
    assert trends[0]["points"][0]["score"] > trends[0]["points"][1]["score"]
    weak = weak_criteria(user=manager)
    assert weak[0]["score"] < weak[-1]["score"] and weak[-1]["score"] == 100.0


def test_auditor_sees_only_their_audits_and_no_customer(
    client, auditor, make_user, audit, customer, manager, checklist
):
    other_auditor = make_user("otro", "auditor")
    hidden = audit_create(
        actor=manager,
        fields={"template": checklist, "auditor": other_auditor, "location": "Escondida", "channel": "shop",
                "scheduled_on": dt.date(2026, 11, 1)},
    )  # fmt: skip
    client.force_login(auditor)
    page = client.get(reverse("surveys:audit_list")).content.decode()
    assert "Tienda Centro" in page and "Escondida" not in page
    assert client.get(reverse("surveys:audit_detail", args=[hidden.pk])).status_code == 404
    assert client.get(reverse("customers:detail", args=[customer.pk])).status_code in (403, 404)
    listing = client.get(reverse("customers:list"))
    assert listing.status_code in (200, 403) and "Lucía" not in listing.content.decode()
    api = client.get("/api/customers")
    assert "Lucía" not in api.content.decode()


def test_the_step_page_keeps_typed_values_on_a_refused_save(client, auditor, audit):
    client.force_login(auditor)
    first, second = audit.template.criteria.filter(step="first_contact")
    url = reverse("surveys:audit_fill", args=[audit.pk, "first_contact"])
    response = client.post(
        url,
        {
            f"value-{first.pk}": "1",
            f"comment-{second.pk}": "Tardó mucho",
            f"value-{second.pk}": "77",
            "go": "next",
        },
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Tardó mucho" in page and 'value="77"' not in page.split(f'name="value-{second.pk}"')[0][-5:]
    assert AuditAnswer.objects.get(audit=audit, criterion=first).value == 1
    # A good save moves on to the next step.
    response = client.post(url, {f"value-{first.pk}": "1", f"value-{second.pk}": "4", "go": "next"})
    assert response.status_code == 302 and response["Location"].endswith("/step/advice/")


def test_photo_upload_page_and_serving(client, auditor, audit, manager, png_bytes):
    client.force_login(auditor)
    url = reverse("surveys:audit_photo_add", args=[audit.pk, "sale"])
    upload = io.BytesIO(png_bytes())
    upload.name = "foto.png"
    client.post(url, {"photo": upload, "caption": "Mostrador"})
    photo = AuditPhoto.objects.get()
    response = client.get(reverse("surveys:audit_photo", args=[photo.pk]))
    assert response["Content-Type"] == "image/jpeg" and response["X-Content-Type-Options"] == "nosniff"
    evil = io.BytesIO(b"<svg onload=alert(1)></svg>")
    evil.name = "x.svg"
    response = client.post(url, {"photo": evil}, follow=True)
    assert AuditPhoto.objects.count() == 1
    assert "no es una foto" in response.content.decode() or "not a photo" in response.content.decode()


def test_manager_report_and_results_pages(client, manager, auditor, audit, owner, answer_everything):
    answer_everything(audit, auditor)
    audit_submit(actor=auditor, audit=audit)
    client.force_login(manager)
    due = (timezone.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        reverse("surveys:finding_create", args=[audit.pk]),
        {"title": "Revisar saludo", "assignee": owner.pk, "due_at": due},
    )
    assert response.status_code == 302
    page = client.get(reverse("surveys:audit_detail", args=[audit.pk])).content.decode()
    assert "100.0 / 100" in page or "100,0 / 100" in page
    assert "Revisar saludo" in page
    assert client.get(reverse("surveys:audit_results")).status_code == 200
    assert Audit.objects.count() == 1 and AuditTemplate.objects.count() == 1
