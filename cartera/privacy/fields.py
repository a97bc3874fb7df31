"""Which fields hold personal data, and how erasure treats each: the one table.

Every concrete text, date, e-mail and JSON field of every model of the project is listed here under
its model, with what erasure (Art. 17 / Art. 21) does to it:

* ``CLEAR``   — emptied ("" or NULL, ``{}`` for JSON);
* ``REPLACE`` — replaced by a placeholder ("Anonymised #id");
* ``REDACT``  — a free text replaced by "[redacted]" when it had something;
* ``RETENTION`` — personal data that cannot be tied to one person (a rejected import row); it is
  removed by the retention job after its period (see :mod:`cartera.privacy.retention`);
* ``STAFF``   — personal data of the team, not of customers; out of a customer's erasure;
* ``KEEP``    — not personal data (codes, dates of the business, analysis figures, configuration).

``tests/privacy/test_fields.py`` walks every model and fails when a field is missing here, so that a
new field cannot be forgotten by the export, the erasure and the records of processing.
"""

from __future__ import annotations

from enum import StrEnum


class How(StrEnum):
    CLEAR = "clear"
    REPLACE = "replace"
    REDACT = "redact"
    RETENTION = "retention"
    STAFF = "staff"
    KEEP = "keep"


ERASED = (How.CLEAR, How.REPLACE, How.REDACT)
REDACTED = "[redacted]"

K, C, P, R, T, S = How.KEEP, How.CLEAR, How.REPLACE, How.REDACT, How.RETENTION, How.STAFF
_STAMPS = {"created_at": K, "updated_at": K}

FIELDS: dict[str, dict[str, How]] = {
    "accounts.user": {
        "password": S, "last_login": S, "username": S, "first_name": S, "last_name": S, "email": S,
        "date_joined": S,
    },
    "accounts.apitoken": {
        "name": S, "prefix": S, "key_hash": S, "created_at": K, "last_used_at": S, "expires_at": S,
        "password_fingerprint": S, "scope": K,
    },
    "customers.company": {
        **_STAMPS, "name": K, "name_key": K, "tax_id": K, "sector": K, "size": K, "region": K, "website": K,
    },
    "customers.tag": {"name": K},
    "customers.customfield": {"key": K, "label": K, "field_type": K, "choices": K, "editable_by": K},
    "customers.customer": {
        **_STAMPS,
        "title": C, "first_name": P, "last_name": C, "email": C, "phone": C, "stage": K, "sector": K,
        "job_title": C, "profession": C, "birth_date": C, "address": C, "city": C, "region": C,
        "postal_code": C, "country": K, "preferred_channel": C, "source": K, "income_range": C,
        "custom_fields": C, "notes": R, "first_name_key": C, "last_name_key": C,
    },
    "activity.interaction": {
        **_STAMPS, "kind": K, "direction": K, "occurred_at": K, "subject": R, "body": R, "outcome": K,
    },
    "activity.task": {**_STAMPS, "title": R, "due_at": K, "done_at": K, "seen_at": K, "notes": R},
    # Orders stay, anonymous: the amounts and dates are what revenue, cohorts and the models read.
    "sales.order": {
        **_STAMPS, "ordered_on": K, "currency": K, "channel": K, "category": K, "source": K, "external_ref": K,
    },
    "sales.promotioncode": {
        "code": K, "valid_from": K, "valid_until": K, "source": K, "created_at": K,
    },
    "insights.customermetrics": {
        "first_order_on": K, "last_order_on": K, "rfm_segment": K, "abc_class": K, "lifecycle": K,
        "reason_code": K, "reason_data": K, "decline_since": K, "computed_at": K, "stage": K,
        "left_active_on": K,
    },
    "insights.portfoliosnapshot": {
        "taken_on": K, "by_lifecycle": K, "model_name": K, "model_params": K, "computed_at": K,
    },
    "insights.refreshrun": {
        "started_at": K, "finished_at": K, "status": K, "trigger": K, "model_name": K, "model_params": K,
        "note": K, "holder": K, "heartbeat_at": K,
    },
    # Aggregates of the whole portfolio (rates, AUCs, parameters): nobody's personal data.
    "insights.backtest": {
        "started_at": K, "status": K, "trigger": K, "cutoff": K, "holdout_end": K, "shown_model": K,
        "result": K, "note": K, "task_id": K,
    },
    "segments.segment": {
        **_STAMPS, "name": K, "description": K, "definition": K, "kind": K, "frozen_at": K,
    },
    "segments.segmentmember": {},
    "segments.persona": {
        **_STAMPS, "name": K, "initials": K, "description": K, "region": K, "income_range": K, "needs": K,
        "looks_for": K, "solutions": K, "company_type": K, "buyer_position": K, "definition": K, "message": K,
    },
    "segments.personasuggestionrun": {"created_at": K, "model": K, "suggestions": K},
    "segments.portfoliofigures": {
        "taken_on": K, "snapshot_computed_at": K, "computed_at": K, "cohorts": K, "rfm": K, "rfm_moves": K,
        "abc": K, "pareto": K, "at_risk_ids": K, "stages": K, "other_currencies": K,
    },
    "imports.importmapping": {
        "name": K, "kind": K, "columns": K, "options": K, "created_at": K, "updated_at": K,
    },
    "imports.importjob": {
        "kind": K, "status": K, "file_name": K, "stored_path": T, "file_sha256": K, "headers": K, "columns": K,
        "options": K, "duplicate_policy": K, "source": K, "source_detail": K, "lawful_basis": K,
        "created_at": K, "updated_at": K, "started_at": K, "finished_at": K, "report": K, "message": K,
        "currency": K, "list_origin": K,
        # The dry run's fit distribution: bands, and the best rows by row number with the reasons
        # (sector, region, age band): no name, e-mail or phone.
        "fit": K,
    },
    # ``previous`` holds the customer's values before an import changed them (for rollback).
    # ``conflict`` says why a rollback kept the row (an owner's name at most: team data).
    "imports.importrecord": {
        "model": K, "action": K, "external_ref": K, "previous": C, "conflict": S, "written_at": K,
    },
    "imports.importrowerror": {"column": K, "outcome": K, "value": T, "reason": T, "raw": T},
    "imports.exportlog": {"created_at": K, "what": K, "file_format": K, "filters": K},
    # An export job: the file (personal data of many people) is deleted by retention after its hours;
    # the row that stays says who exported what, like the export log.
    "imports.exportjob": {
        **_STAMPS, "kind": K, "file_format": K, "filters": K, "language": K, "status": K, "stored_path": T,
        "message": K, "started_at": K, "finished_at": K, "expires_at": K, "file_deleted_at": K,
    },
    "privacy.consentevent": {
        "channel": K, "purpose": K, "source": K, "wording": K, "version": K, "recorded_at": K, "reference": K,
    },
    "privacy.privacyprofile": {
        "lawful_basis": K, "basis_note": R, "language": K, "erased_at": K, "updated_at": K,
    },
    "privacy.suppressedemail": {"email_hash": K, "reason": K, "created_at": K},
    # An erased person's old values in the log of changes are redacted (through the audit unlock).
    "privacy.auditentry": {
        "at": K, "actor_name": S, "action": K, "target_type": K, "target_label": P, "changes": R, "detail": K,
    },
    "privacy.auditunlock": {"reason": K},
    # Surveys: the customer's own words are redacted; scores, reasons and dates stay (anonymous), so
    # the results do not move. Audits hold no customer data; who was audited is the team's.
    "surveys.survey": {**_STAMPS, "name": K, "kind": K, "question_es": K, "question_en": K, "trigger": K},
    "surveys.invitation": {
        **_STAMPS, "token": K, "language": K, "channel": K, "trigger": K, "sent_at": K, "not_sent_reason": K,
    },
    "surveys.surveyresponse": {**_STAMPS, "reason": K, "comment": R, "language": K, "answered_at": K},
    "surveys.question": {
        "kind": K, "text_es": K, "text_en": K, "choices_es": K, "choices_en": K, "low_label_es": K,
        "low_label_en": K, "high_label_es": K, "high_label_en": K,
    },
    "surveys.questionanswer": {"choices": K, "text": R},
    "surveys.surveyfigures": {"tally": K, "computed_at": K, "wanted_at": K},
    "surveys.audittemplate": {**_STAMPS, "name": K},
    "surveys.auditcriterion": {"step": K, "text": K},
    "surveys.audit": {
        **_STAMPS, "location": K, "channel": K, "employee": S, "scheduled_on": K, "status": K, "notes": S,
        "submitted_at": K,
    },
    "surveys.auditanswer": {"comment": S},
    "surveys.auditphoto": {**_STAMPS, "step": K, "caption": S},
    "surveys.auditfinding": {**_STAMPS},
    # Stage history: the moves stay (the pipeline's figures read them); why, in words, is redacted.
    # A possible duplicate: reason codes and a score, about the person only through the two links.
    "customers.duplicatecandidate": {"reasons": K, "found_at": K},
    # A merge keeps the removed record and the kept one's old values to undo it: erasure clears them
    # (the merge can no longer be undone).
    "customers.customermerge": {"removed_label": C, "merged_at": K, "snapshot": C, "undone_at": K},
    "customers.stagechange": {"from_stage": K, "to_stage": K, "changed_at": K, "reason": R, "via": K},
    "pipeline.pipeline": {"name": K},
    "pipeline.pipelinestage": {"name": K},
    "pipeline.lostreason": {"name": K},
    # An opportunity's amounts and dates stay for the bottleneck report; its free text is redacted.
    "pipeline.opportunity": {
        **_STAMPS, "title": R, "currency": K, "expected_close_on": K, "source": K, "next_step": R,
        "next_step_on": K, "status": K, "stage_entered_at": K, "last_activity_at": K, "closed_at": K,
        "lost_note": R, "qualification_notes": R,
    },
    "pipeline.opportunitystagechange": {"outcome": K, "changed_at": K},
    "pipeline.calllist": {"name": K, "for_date": K, "created_at": K},
    "pipeline.calllistentry": {"outcome": K, "called_at": K},
    "pipeline.leadform": {
        **_STAMPS, "name": K, "slug": K, "title": K, "intro": K, "thank_you": K, "language": K, "fields": K,
        "required_fields": K, "stage": K, "consent_text": K, "allowed_origins": K, "assignment": K,
    },
    # The fit score is derived from the person's attributes (age band among them): cleared with them.
    "pipeline.prospectfit": {"reasons": C, "computed_at": K},
    # The report's figures the worker counted: counts and sums per stage, owner, source, lead form and
    # campaign name, never a person's data (a person erased drops out at the next count).
    "pipeline.reportfigures": {"key": K, "figures": K, "stamp": K, "counted_at": K, "wanted_at": K},
    # A lead form's answer: what the person typed is cleared; where it came from and the consent
    # wording they ticked stay (the ledger's proof, withdrawn by the erasure itself).
    "pipeline.leadsubmission": {
        "answers": C, "language": K, "page_url": K, "utm_source": K, "utm_medium": K, "utm_campaign": K,
        "utm_term": K, "utm_content": K, "consent_text": K, "consent_version": K, "confirmation_sent_at": K,
        "confirmed_at": K, "created_at": K,
    },
    # The outbox: the message itself is about the person; server replies may quote the address.
    "messaging.outboxmessage": {
        "purpose": K, "reference": K, "batch": K, "consent_purpose": K, "to_address": C, "from_address": K,
        "reply_to": K, "language": K, "subject": R, "text": R, "html": R, "state": K, "error": C,
        "smtp_reply": C, "next_attempt_at": K, "claim": K, "claimed_at": K, "created_at": K, "sent_at": K,
        "unsubscribed_at": K,
    },
    "messaging.deliverylease": {"name": K, "holder": K, "heartbeat_at": K},
    "campaigns.campaign": {
        **_STAMPS, "name": K, "goal": K, "status": K, "promo_mode": K, "promo_code": K, "promo_valid_until": K,
        "sent_at": K,
    },
    "campaigns.campaignmessage": {"channel": K, "talking_points": K},
    "campaigns.variant": {"label": K, "subject": K, "body": K, "subject_en": K, "body_en": K},
    # Who was in a campaign and in which group: about the person only through the customer link.
    "campaigns.recipient": {"group": K, "reason": K, "stratum": K, "promo_code": K, "replied_at": K},
    # A tracked link of the campaign's e-mail that the recipient opened: the link is the campaign's.
    "campaigns.click": {"url": K, "first_at": K, "last_at": K},
}  # fmt: skip


def personal_fields(model_label: str) -> dict[str, How]:
    """The fields of ``model_label`` that erasure empties, replaces or redacts."""
    return {name: how for name, how in FIELDS.get(model_label, {}).items() if how in ERASED}


def categories() -> list[tuple[str, str, list[str]]]:
    """(model label, how, field names) for every kind of personal data held, for the records page."""
    rows: list[tuple[str, str, list[str]]] = []
    for label, fields in FIELDS.items():
        for how in (How.CLEAR, How.REPLACE, How.REDACT, How.RETENTION, How.STAFF):
            names = [name for name, h in fields.items() if h == how]
            if names:
                rows.append((label, how.value, names))
    return rows
