"""One row of every model of cartera/surveys, made through the services (for the route walk and the
admin pages)."""

from __future__ import annotations

import io

from django.utils import timezone


def survey_and_audit_rows(owner, customer, manager, make_user):
    """A survey with a personal invitation and an answer, and an audit with an answer, a photo and a
    corrective task (cartera/surveys)."""
    import datetime as dt

    from PIL import Image

    from cartera.surveys.services import audits, surveys

    survey = surveys.survey_create(actor=manager, fields={"name": "Encuesta Secreta", "kind": "nps"})
    invitation = surveys.invitation_create(actor=None, survey=survey, customer=customer)
    answer = surveys.response_record(invitation=invitation, score=2, comment="Muy secreto")
    auditor = make_user("walk-auditor", "auditor")
    template = audits.audit_template_create(actor=manager, name="Lista")
    audit = audits.audit_create(
        actor=manager,
        fields={"template": template, "auditor": auditor, "location": "Tienda Secreta", "channel": "shop",
                "scheduled_on": dt.date(2026, 11, 2)},
    )  # fmt: skip
    criterion = template.criteria.first()
    audits.audit_step_save(
        actor=auditor, audit=audit, step=criterion.step, answers={criterion.pk: {"value": "1"}}
    )
    image = io.BytesIO()
    Image.new("RGB", (8, 8)).save(image, format="PNG")
    image.seek(0)
    photo = audits.audit_photo_add(actor=auditor, audit=audit, step=criterion.step, upload=image)
    finding = audits.audit_finding_create(
        actor=manager,
        audit=audit,
        title="Corregir",
        assignee=owner,
        due_at=timezone.now(),
        criterion=criterion,
    )
    return [survey, invitation, answer, template, audit, photo, finding]
