"""Writes for surveys: the survey itself, its invitations (one unguessable token each) and the answers
that come back, with what an unhappy answer sets off (a follow-up task for the owner)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from cartera.accounts.models import User
from cartera.activity.models import Task
from cartera.customers.models import Customer
from cartera.privacy.models import PrivacyProfile
from cartera.surveys.models import (
    Invitation,
    InvitationChannel,
    LapseReason,
    Question,
    QuestionAnswer,
    Survey,
    SurveyKind,
    SurveyResponse,
    Trigger,
)
from cartera.surveys.services.figures import figures_wanted
from cartera.surveys.services.questions import answers_check

SURVEY_FIELDS = Survey.EDITABLE_FIELDS
# Customers read (and invitations updated) this many at a time: bounded statements at any size.
READ_CHUNK = 5000
SIGNING_SALT = "cartera.surveys.invitation"
# Countries whose customers get the Spanish text when their language is not recorded.
SPANISH_COUNTRIES = frozenset(
    [
        "ES",
        "MX",
        "AR",
        "CO",
        "CL",
        "PE",
        "VE",
        "EC",
        "GT",
        "CU",
        "BO",
        "DO",
        "HN",
        "PY",
        "SV",
        "NI",
        "CR",
        "PA",
        "UY",
        "PR",
        "GQ",
        "AD",
    ]
)


def _assign(survey: Survey, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(SURVEY_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(survey, name, value.strip() if isinstance(value, str) else value)


@transaction.atomic
def survey_create(*, actor: User, fields: Mapping[str, Any]) -> Survey:
    """A new survey; its question defaults to the standard wording of its kind in both languages."""
    if not actor.has_perm("surveys.add_survey"):
        raise PermissionDenied(_("You do not have permission to do this."))
    survey = Survey(created_by=actor)
    _assign(survey, fields)
    survey.full_clean()
    survey.save()
    return survey


@transaction.atomic
def survey_update(*, actor: User, survey: Survey, fields: Mapping[str, Any]) -> Survey:
    """Change a survey's wording, trigger, cap or switch it off (answers already given stay)."""
    _assign(survey, fields)
    survey.full_clean()
    survey.save()
    return survey


def customer_language(customer: Customer | None) -> str:
    """The language to ask ``customer`` in: the one recorded in their privacy profile, else by country."""
    if customer is None:
        return "es"
    language = PrivacyProfile.objects.filter(customer=customer).values_list("language", flat=True).first()
    if language in ("es", "en"):
        return language
    return "es" if (customer.country or "ES").upper() in SPANISH_COUNTRIES else "en"


def signed_token(invitation: Invitation) -> str:
    """The token as it goes in the answer link: the random token, signed with the site's secret."""
    return signing.Signer(salt=SIGNING_SALT).sign(invitation.token)


def token_from_signed(signed: str) -> str | None:
    """The random token inside a signed link, or ``None`` when the signature does not match."""
    try:
        return signing.Signer(salt=SIGNING_SALT).unsign(signed)
    except signing.BadSignature:
        return None


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def invitation_create(
    *,
    actor: User | None,
    survey: Survey,
    customer: Customer | None,
    channel: str = InvitationChannel.LINK,
    trigger: str = Trigger.MANUAL,
) -> Invitation:
    """Invite one customer (or make an open counter link when ``customer`` is ``None``)."""
    if actor is not None and not actor.has_perm("surveys.add_invitation"):
        raise PermissionDenied(_("You do not have permission to do this."))
    if not survey.active:
        raise ValidationError(_("This survey is switched off."))
    figures_wanted(survey_ids=[survey.pk])
    return Invitation.objects.create(
        survey=survey,
        customer=customer,
        token=_new_token(),
        language=customer_language(customer),
        channel=channel,
        trigger=trigger,
        open=customer is None,
        sent_at=timezone.now() if channel != InvitationChannel.EMAIL else None,
    )


def capped_customer_ids(
    *, customer_ids: Iterable[int], cap_days: int, now: dt.datetime | None = None
) -> set[int]:
    """Which of these customers were asked any survey within the last ``cap_days`` days."""
    since = (now or timezone.now()) - dt.timedelta(days=cap_days)
    return set(
        Invitation.objects.filter(customer_id__in=list(customer_ids), created_at__gte=since).values_list(
            "customer_id", flat=True
        )
    )


@transaction.atomic
def invitations_create_bulk(
    *,
    survey: Survey,
    customer_ids: Iterable[int],
    trigger: str,
    channel: str = InvitationChannel.EMAIL,
) -> list[Invitation]:
    """Invite many customers at once, leaving out those within the survey's frequency cap."""
    ids = list(dict.fromkeys(customer_ids))
    capped = capped_customer_ids(customer_ids=ids, cap_days=survey.cap_days)
    wanted = [pk for pk in ids if pk not in capped]
    now = timezone.now()
    rows = []
    # Read by chunks and as plain values: 100,000 customer objects cost more than the invitations.
    for start in range(0, len(wanted), READ_CHUNK):
        chunk = wanted[start : start + READ_CHUNK]
        countries = dict(Customer.objects.filter(pk__in=chunk).values_list("pk", "country"))
        languages = dict(
            PrivacyProfile.objects.filter(customer_id__in=chunk, language__in=("es", "en")).values_list(
                "customer_id", "language"
            )
        )
        rows += [
            Invitation(
                survey=survey,
                customer_id=pk,
                token=_new_token(),
                language=languages.get(pk)
                or ("es" if (countries[pk] or "ES").upper() in SPANISH_COUNTRIES else "en"),
                channel=channel,
                trigger=trigger,
                sent_at=None if channel == InvitationChannel.EMAIL else now,
            )
            for pk in chunk
            if pk in countries
        ]
    created = Invitation.objects.bulk_create(rows, batch_size=2000)
    figures_wanted(survey_ids=[survey.pk])
    return created


def next_working_day_end(now: dt.datetime) -> dt.datetime:
    """The end of the next working day (Monday to Friday, 18:00 local time)."""
    local = timezone.localtime(now)
    day = local.date() + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(day, dt.time(18, 0)))


def _follow_up(response: SurveyResponse, invitation: Invitation) -> Task | None:
    """A task for the customer's owner to call an unhappy customer back within one working day."""
    customer = response.customer or invitation.customer
    if customer is None or not response.unhappy or response.follow_up_id:
        return None
    assignee = customer.owner or response.survey.created_by
    if assignee is None:
        return None
    # The team's tasks are written in the business's language, not in the customer's.
    with override(settings.LANGUAGE_CODE):
        title = _("Call back %(customer)s: unhappy survey answer (%(score)s)") % {
            "customer": customer,
            "score": response.score,
        }
        notes = _("Survey “%(survey)s”. Their words: %(comment)s") % {
            "survey": response.survey.name,
            "comment": response.comment or "—",
        }
    return Task.objects.create(
        title=title[:200],
        customer=customer,
        assignee=assignee,
        due_at=next_working_day_end(response.answered_at),
        notes=notes,
        created_by=None,
    )


class AnswerClosed(ValidationError):
    """The answer can no longer be changed (more than 24 hours have passed)."""


@transaction.atomic
def response_record(
    *,
    invitation: Invitation,
    score: int | None,
    reason: str = "",
    comment: str = "",
    language: str = "es",
    answers: Mapping[int, Any] | None = None,
    now: dt.datetime | None = None,
) -> SurveyResponse:
    """Keep a customer's answer: one per personal invitation, changeable for 24 hours; an open link
    takes a new anonymous answer each time. An unhappy answer opens a follow-up task for the owner.

    A custom questionnaire takes ``answers`` (question pk → what was given, see
    :func:`cartera.surveys.services.questions.answers_check`) to the questions of the version the
    answer belongs to: the current one, or for a change within 24 hours, the one first answered."""
    now = now or timezone.now()
    invitation = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("survey", "customer__owner")
        .get(pk=invitation.pk)
    )
    survey = invitation.survey
    low, high = survey.scale
    if survey.asks_score:
        if score is None or not low <= score <= high:
            raise ValidationError(
                {"score": _("Choose a score from %(low)s to %(high)s.") % {"low": low, "high": high}}
            )
        reason = ""
    elif survey.custom:
        score, reason = None, ""
    else:
        score = None
        if reason not in LapseReason.values:
            raise ValidationError({"reason": _("Choose a reason.")})
    comment = comment.strip()[:2000]
    response = invitation.personal_answer()
    if response is not None and not response.editable(now):
        raise AnswerClosed(_("This answer was given more than 24 hours ago and can no longer be changed."))
    rows: list[QuestionAnswer] = []
    if survey.custom:
        version = (
            response.questions_version
            if response is not None and response.questions_version
            else survey.questions_version
        )
        questions = list(Question.objects.filter(survey=survey, version=version))
        if not questions:
            raise ValidationError(_("This questionnaire has no questions yet."))
        rows = answers_check(questions=questions, raw=answers or {}, language=language)
        if not rows:
            raise ValidationError(_("Answer at least one question."))
    if response is None:
        response = SurveyResponse(
            survey=survey,
            invitation=invitation,
            customer=None if survey.anonymous else invitation.customer,
            answered_at=now,
            questions_version=survey.questions_version if survey.custom else None,
        )
    response.score, response.reason, response.comment, response.language = score, reason, comment, language
    response.save()
    if survey.custom:
        QuestionAnswer.objects.filter(response=response).delete()
        for row in rows:
            row.response, row.customer_id = response, response.customer_id
        QuestionAnswer.objects.bulk_create(rows)
    if not survey.anonymous:
        task = _follow_up(response, invitation)
        if task is not None:
            response.follow_up = task
            response.save(update_fields=["follow_up", "updated_at"])
    figures_wanted(survey_ids=[survey.pk])
    return response


def standard_question(kind: str, language: str) -> str:
    """The standard wording of each kind of survey, in ``language``."""
    with override(language):
        return {
            SurveyKind.NPS: _("How likely are you to recommend us to a friend or colleague?"),
            SurveyKind.CSAT: _("How satisfied are you with our service?"),
            SurveyKind.CES: _("How easy was it to get what you needed from us?"),
            SurveyKind.LAPSE: _("We have missed you. Why did you stop buying from us?"),
            SurveyKind.CUSTOM: _("A few questions about how we are doing."),
        }[SurveyKind(kind)]


def invitation_link(invitation: Invitation) -> str:
    """The public answer page of ``invitation``, as an absolute address for an e-mail."""
    prefix, suffix = invitation_link_parts()
    return prefix + signed_token(invitation) + suffix


def invitation_link_parts() -> tuple[str, str]:
    """The absolute address of the public answer page before and after its signed token (a token and
    its signature are URL-safe: letters, digits, ``-``, ``_`` and ``:``, which reverse() leaves as
    they are)."""
    from django.urls import reverse

    marker = "TOKEN"
    prefix, suffix = reverse("survey_answer", args=[marker]).split(marker)
    return settings.CARTERA_PUBLIC_URL.rstrip("/") + prefix, suffix


def invitations_send(*, invitations: Iterable[Invitation], sender_user: User | None = None) -> dict[str, int]:
    """Queue the e-mail of each not-yet-sent e-mail invitation in the shared outbox (messaging).

    Survey e-mails need the customer's consent for surveys and an address off the suppression list
    (checked again by the worker just before sending); each one carries the unsubscribe link. An
    invitation that may not be sent keeps why (``not_sent_reason``) and is not tried again.
    Returns ``{"queued": n, "refused": m}``.
    """
    from cartera.messaging.services import OutboxDraft, messages_queue_many, recipient_refusals

    pending = [
        i
        for i in invitations
        if i.channel == InvitationChannel.EMAIL
        and i.sent_at is None
        and i.customer_id
        and not i.not_sent_reason
    ]
    if not pending:
        return {"queued": 0, "refused": 0}
    customer_ids = list({i.customer_id for i in pending if i.customer_id is not None})
    customers: dict[int, tuple[str, str]] = {}
    for start in range(0, len(customer_ids), READ_CHUNK):
        chunk = customer_ids[start : start + READ_CHUNK]
        customers.update(
            (pk, (first_name, (email or "").strip()))
            for pk, first_name, email in Customer.objects.filter(pk__in=chunk).values_list(
                "pk", "first_name", "email"
            )
        )
    surveys = Survey.objects.in_bulk({i.survey_id for i in pending})
    keys = {i.pk: (i.customer_id, customers.get(i.customer_id or 0, ("", ""))[1]) for i in pending}
    refusals = recipient_refusals(recipients=list(keys.values()), consent_purpose="surveys")
    # The link's address around its token, and each survey's words in each language, worked out once:
    # a Django reverse() and a translation switch for each of 100,000 invitations cost half a minute.
    prefix, suffix = invitation_link_parts()
    now = timezone.now()
    words: dict[tuple[int, str], dict[str, str]] = {}
    drafts: list[OutboxDraft] = []
    refused: dict[str, list[int]] = defaultdict(list)
    sent: list[int] = []
    for invitation in pending:
        reason = refusals.get(keys[invitation.pk])
        if reason is not None:
            invitation.not_sent_reason = reason
            refused[reason].append(invitation.pk)
            continue
        language = invitation.language if invitation.language in ("es", "en") else "es"
        survey = surveys[invitation.survey_id]
        said = words.get((survey.pk, language)) or words.setdefault(
            (survey.pk, language), _words(survey, language)
        )
        first_name = customers[invitation.customer_id or 0][0]
        link = prefix + signed_token(invitation) + suffix
        drafts.append(
            OutboxDraft(
                to_address=keys[invitation.pk][1],
                language=language,
                subject=said["subject"],
                text="\n".join(
                    [
                        said["greeting"] % {"name": first_name} if first_name else said["hello"],
                        "",
                        said["question"],
                        "",
                        said["takes"] % {"link": link},
                        "",
                        said["thanks"],
                    ]
                ),
                customer_id=invitation.customer_id,
                reference=f"surveys.invitation:{invitation.pk}",
            )
        )
        invitation.sent_at = now
        sent.append(invitation.pk)
    with transaction.atomic():
        messages_queue_many(
            drafts=drafts,
            purpose="survey",
            batch=f"survey:{pending[0].survey_id}",
            consent_purpose="surveys",
            sender_user=sender_user,
        )
        for start in range(0, len(sent), READ_CHUNK):
            Invitation.objects.filter(pk__in=sent[start : start + READ_CHUNK]).update(sent_at=now)
        for reason, pks in refused.items():
            for start in range(0, len(pks), READ_CHUNK):
                Invitation.objects.filter(pk__in=pks[start : start + READ_CHUNK]).update(
                    not_sent_reason=reason
                )
    return {"queued": len(sent), "refused": sum(map(len, refused.values()))}


def _words(survey: Survey, language: str) -> dict[str, str]:
    """The words of ``survey``'s invitation e-mail in ``language`` (the greeting keeps ``%(name)s``, the
    sentence with the link keeps ``%(link)s``)."""
    question = (survey.question_en if language == "en" else survey.question_es) or standard_question(
        survey.kind, language
    )
    with override(language):
        return {
            "greeting": _("Hello %(name)s,"),
            "hello": _("Hello,"),
            "question": question,
            "takes": _("It takes less than a minute: %(link)s"),
            "thanks": _("Thank you."),
            "subject": _("A quick question: %(survey)s") % {"survey": survey.name},
        }
