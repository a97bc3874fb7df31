"""Satisfaction surveys (NPS, CSAT, CES, lapse reasons) and service-quality audits (mystery shopper).

Surveys: a :class:`Survey` is sent as one :class:`Invitation` per customer (or shown as an open link /
QR code at a shop counter); each invitation takes one :class:`SurveyResponse`, editable for a day.

Audits: an :class:`AuditTemplate` is a versioned checklist of weighted :class:`AuditCriterion` rows
across the steps of the service journey; an :class:`Audit` applies one version to a location, channel
and employee on a date, and holds the auditor's :class:`AuditAnswer` rows, :class:`AuditPhoto` files
and the :class:`AuditFinding` rows that turned weak points into corrective tasks.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.activity.models import Task
from cartera.core.models import TimeStampedModel
from cartera.customers.models import Customer

# ---------------------------------------------------------------------------------------------- surveys


class SurveyKind(models.TextChoices):
    NPS = "nps", _("NPS (0-10: would you recommend us?)")
    CSAT = "csat", _("CSAT (1-5: how satisfied are you?)")
    CES = "ces", _("CES (1-7: how easy was it?)")
    LAPSE = "lapse", _("Lapsed customer: why did you stop buying?")
    CUSTOM = "custom", _("Custom questionnaire (your own questions)")


class Trigger(models.TextChoices):
    MANUAL = "manual", _("By hand (a segment, a link or a QR code)")
    DECLINING = "declining", _("When a customer's orders start to decline")
    AT_RISK = "at_risk", _("When a customer becomes at risk")
    AFTER_ORDER = "after_order", _("Some days after an order")
    PERIODIC = "periodic", _("Periodic relationship survey")
    LAPSED = "lapsed", _("When a customer stops buying (inactive or lost)")


class LapseReason(models.TextChoices):
    PRICE = "price", _("Price")
    QUALITY = "quality", _("Quality")
    SERVICE = "service", _("Service")
    DELIVERY = "delivery", _("Delivery")
    MOVED = "moved", _("I moved")
    COMPETITOR = "competitor", _("Found another supplier")
    NOT_NEEDED = "not_needed", _("No longer needed")
    OTHER = "other", _("Other")


class Survey(TimeStampedModel):
    """A question asked to customers, how it is started and how often one customer may get it."""

    scope_owner_fields = ("created_by",)
    # What the form, the service and the API may set (the rest is kept by the app).
    EDITABLE_FIELDS = (
        "name",
        "kind",
        "question_es",
        "question_en",
        "trigger",
        "trigger_days",
        "cap_days",
        "anonymous",
        "active",
    )

    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(_("kind"), max_length=10, choices=SurveyKind.choices, default=SurveyKind.NPS)
    question_es = models.CharField(_("question in Spanish"), max_length=300, blank=True)
    question_en = models.CharField(_("question in English"), max_length=300, blank=True)
    trigger = models.CharField(_("sent"), max_length=12, choices=Trigger.choices, default=Trigger.MANUAL)
    trigger_days = models.PositiveSmallIntegerField(
        _("days (after the order, or between periodic surveys)"),
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(730)],
    )
    cap_days = models.PositiveSmallIntegerField(
        _("ask one customer at most once every (days)"),
        default=90,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
    )
    anonymous = models.BooleanField(
        _("anonymous"), default=False, help_text=_("Answers are not linked to the customer.")
    )
    active = models.BooleanField(_("active"), default=True)
    # The version of a custom questionnaire that new answers get. Questions change in place while no
    # answer uses this version; after that, a change copies them into the next version.
    questions_version = models.PositiveSmallIntegerField(_("questionnaire version"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("survey")
        verbose_name_plural = _("surveys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def scale(self) -> tuple[int, int]:
        """The lowest and highest score of the survey's question (lapse surveys ask no score)."""
        return {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5), SurveyKind.CES: (1, 7)}.get(
            SurveyKind(self.kind), (0, 0)
        )

    @property
    def asks_score(self) -> bool:
        return self.kind not in (SurveyKind.LAPSE, SurveyKind.CUSTOM)

    @property
    def custom(self) -> bool:
        return self.kind == SurveyKind.CUSTOM


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    SCALE = "scale", _("Scale")
    TEXT = "text", _("Text")


class Question(models.Model):
    """One question of a custom questionnaire, in one version of it. A version that has answers never
    changes: editing it copies every question into the next version, so old answers keep their meaning."""

    MAX_CHOICES = 20
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind of question"), max_length=10, choices=QuestionKind.choices)
    text_es = models.CharField(_("question in Spanish"), max_length=300)
    text_en = models.CharField(_("question in English"), max_length=300, blank=True)
    required = models.BooleanField(_("an answer is required"), default=True)
    # Choices, one a line, in the same order in both languages (English empty = the Spanish ones).
    choices_es = models.TextField(_("choices in Spanish (one a line)"), blank=True, max_length=4000)
    choices_en = models.TextField(_("choices in English (one a line)"), blank=True, max_length=4000)
    scale_min = models.SmallIntegerField(
        _("lowest value"), default=1, validators=[MinValueValidator(0), MaxValueValidator(10)]
    )
    scale_max = models.SmallIntegerField(
        _("highest value"), default=5, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    low_label_es = models.CharField(_("label of the lowest value (Spanish)"), max_length=60, blank=True)
    low_label_en = models.CharField(_("label of the lowest value (English)"), max_length=60, blank=True)
    high_label_es = models.CharField(_("label of the highest value (Spanish)"), max_length=60, blank=True)
    high_label_en = models.CharField(_("label of the highest value (English)"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["survey", "version", "position", "id"]
        indexes = [models.Index(fields=["survey", "version", "position"], name="question_survey_version")]

    def __str__(self) -> str:
        return self.text_es

    def choices(self, language: str = "es") -> list[str]:
        """The question's choices in ``language`` (the Spanish ones when no English ones are given)."""
        spanish = [line.strip() for line in self.choices_es.splitlines() if line.strip()]
        if language == "en":
            english = [line.strip() for line in self.choices_en.splitlines() if line.strip()]
            if len(english) == len(spanish):
                return english
        return spanish

    def text(self, language: str = "es") -> str:
        return (self.text_en if language == "en" else "") or self.text_es

    def labels(self, language: str = "es") -> tuple[str, str]:
        """The words under the lowest and highest values of a scale, in ``language``."""
        if language == "en":
            return (self.low_label_en or self.low_label_es, self.high_label_en or self.high_label_es)
        return (self.low_label_es, self.high_label_es)

    @property
    def has_choices(self) -> bool:
        return self.kind in (QuestionKind.SINGLE, QuestionKind.MULTIPLE)


class InvitationChannel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    LINK = "link", _("Link or QR code")
    PHONE = "phone", _("Phone call")
    COUNTER = "counter", _("Shop counter")


class Invitation(TimeStampedModel):
    """One customer asked one survey, reached by an unguessable token; answers once (editable 24 h)."""

    # Invitations are the portfolio's: whoever sees customers sees them; acting needs the survey's rights.
    scope_owner_fields = ("survey__created_by", "customer__owner")

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True, related_name="survey_invitations"
    )
    token = models.CharField(max_length=64, unique=True, editable=False)
    language = models.CharField(_("language"), max_length=5, default="es")
    channel = models.CharField(
        _("channel"), max_length=10, choices=InvitationChannel.choices, default=InvitationChannel.LINK
    )
    trigger = models.CharField(_("why it was sent"), max_length=12, choices=Trigger.choices)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    # Why an e-mail invitation was not queued (no address, no consent for surveys, suppressed...).
    not_sent_reason = models.CharField(_("not sent because"), max_length=20, blank=True)
    # An open invitation (a counter link) takes many anonymous answers; a personal one takes one.
    open = models.BooleanField(_("open link"), default=False)

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="invitation_customer_when"),
            # A survey's counter link and its latest personal invitations, among a million.
            models.Index(fields=["survey", "open", "-created_at"], name="invitation_survey_open_when"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} · {self.customer or _('open link')}"

    def personal_answer(self) -> SurveyResponse | None:
        """The answer to a personal invitation (it takes one). Read through the invitation's own index
        with no ORDER BY ... LIMIT: PostgreSQL may otherwise walk the index on ``answered_at`` of every
        answer of every survey (300 ms a request at a million answers)."""
        if self.open:
            return None
        answers = list(self.responses.order_by())
        return max(answers, key=lambda r: (r.answered_at, r.pk), default=None)

    @property
    def not_sent_text(self) -> str:
        """Why the e-mail was not sent, in words (the outbox's wording)."""
        from cartera.messaging.services import refusal_text

        return refusal_text(self.not_sent_reason) if self.not_sent_reason else ""


class SurveyResponse(TimeStampedModel):
    """One answer to a survey: the score, the lapse reason and the words of the customer."""

    PERSONAL_DATA_FIELDS = ("comment",)
    EDITABLE_FOR = dt.timedelta(hours=24)
    scope_owner_fields = ("customer__owner",)

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    invitation = models.ForeignKey(
        Invitation, on_delete=models.CASCADE, null=True, blank=True, related_name="responses"
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_responses"
    )
    score = models.SmallIntegerField(_("score"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=12, choices=LapseReason.choices, blank=True)
    comment = models.TextField(_("comment"), blank=True, max_length=2000)
    language = models.CharField(_("language"), max_length=5, default="es")
    answered_at = models.DateTimeField(_("answered"), default=timezone.now)
    follow_up = models.ForeignKey(
        Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("follow-up")
    )
    # A custom questionnaire's answer belongs to the version of the questions it was given to.
    questions_version = models.PositiveSmallIntegerField(_("questionnaire version"), null=True, blank=True)

    class Meta:
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        ordering = ["-answered_at", "-id"]
        indexes = [
            models.Index(fields=["survey", "answered_at"], name="response_survey_when"),
            models.Index(fields=["customer", "-answered_at"], name="response_customer_when"),
            # The latest answers of every survey (promoters to ask for a referral, the at-risk list).
            models.Index(fields=["-answered_at"], name="response_when"),
        ]

    def __str__(self) -> str:
        return f"{self.survey}: {self.score if self.score is not None else self.get_reason_display()}"

    def editable(self, now: dt.datetime | None = None) -> bool:
        """A customer may change their answer for 24 hours after giving it."""
        return (now or timezone.now()) < self.answered_at + self.EDITABLE_FOR

    @property
    def unhappy(self) -> bool:
        """A detractor (NPS 0-6), an unsatisfied customer (CSAT 1-2) or a hard time (CES 1-3)."""
        if self.score is None:
            return False
        limit = {SurveyKind.NPS: 6, SurveyKind.CSAT: 2, SurveyKind.CES: 3}.get(SurveyKind(self.survey.kind))
        return limit is not None and self.score <= limit

    @property
    def promoter(self) -> bool:
        """An NPS promoter (9-10): a candidate to ask for a referral."""
        return self.survey.kind == SurveyKind.NPS and self.score is not None and self.score >= 9


class SurveyFigures(models.Model):
    """A survey's results counted by the worker, for surveys with too many answers to count in a page
    view (``CARTERA_SURVEY_RESULTS_INLINE_MAX``): the tally of
    :func:`cartera.surveys.selectors.surveys.results_tally` plus the lapse reasons and the follow-up
    effect of all its answers. An answer, an invitation or a refresh of the analysis sets ``wanted_at``;
    the worker counts again the rows wanted after they were counted (``computed_at``, when the count
    began) and those older than a day (the twelve-month window moves, owners change)."""

    survey = models.OneToOneField(Survey, on_delete=models.CASCADE, related_name="figures")
    tally = models.JSONField(default=dict)
    computed_at = models.DateTimeField(null=True, blank=True)
    wanted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("survey figures")
        verbose_name_plural = _("survey figures")

    def __str__(self) -> str:
        return f"{self.survey_id}: {self.computed_at}"

    def stale(self, now: dt.datetime | None = None) -> bool:
        """Whether something changed since the count began, or the count is over a day old."""
        if self.computed_at is None:
            return True
        return self.wanted_at > self.computed_at or self.computed_at < (now or timezone.now()) - dt.timedelta(
            days=1
        )


class QuestionAnswer(models.Model):
    """The answer to one question of a custom questionnaire: the chosen choices (their positions in
    the question's list), a value on its scale, or words."""

    PERSONAL_DATA_FIELDS = ("text",)
    response = models.ForeignKey(SurveyResponse, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    # The answer's customer (none when anonymous), kept here too so that the access export and the
    # erasure, which follow the customer's own links, reach the words.
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="survey_question_answers"
    )
    choices = models.JSONField(_("choices"), default=list, blank=True)
    value = models.SmallIntegerField(_("value"), null=True, blank=True)
    text = models.TextField(_("text"), blank=True, max_length=2000)

    class Meta:
        verbose_name = _("answer to a question")
        verbose_name_plural = _("answers to questions")
        constraints = [models.UniqueConstraint(fields=["response", "question"], name="questionanswer_once")]

    def __str__(self) -> str:
        return f"{self.question}: {self.value if self.value is not None else self.choices or self.text}"


# ----------------------------------------------------------------------------------------------- audits


class JourneyStep(models.TextChoices):
    FIRST_CONTACT = "first_contact", _("First contact")
    ADVICE = "advice", _("Advice")
    SALE = "sale", _("Sale")
    AFTER_SALE = "after_sale", _("After-sale")
    COMPLAINT = "complaint", _("Complaint handling")


STEP_ORDER = [step.value for step in JourneyStep]


class AuditChannel(models.TextChoices):
    SHOP = "shop", _("Shop visit")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    WEB = "web", _("Website or chat")


class AuditTemplate(TimeStampedModel):
    """One version of a service-quality checklist. Once an audit uses it, it never changes: editing
    makes the next version (same ``family``), and old audits keep theirs."""

    name = models.CharField(_("name"), max_length=120)
    family = models.PositiveIntegerField(_("checklist"), db_index=True, default=0)
    # The checklist's own version number; it hides TimeStampedModel.version (the edit-concurrency
    # token), which audit templates never use: a new version is a new row, never an edit.
    version = models.PositiveSmallIntegerField(_("version"), default=1)  # type: ignore[assignment]
    current = models.BooleanField(_("current version"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("audit checklist")
        verbose_name_plural = _("audit checklists")
        ordering = ["name", "-version"]
        constraints = [models.UniqueConstraint(fields=["family", "version"], name="audittemplate_version")]

    def __str__(self) -> str:
        return f"{self.name} (v{self.version})"


class AuditCriterion(models.Model):
    """One thing the auditor checks, at one step of the journey, with its weight and scale."""

    template = models.ForeignKey(AuditTemplate, on_delete=models.CASCADE, related_name="criteria")
    step = models.CharField(_("journey step"), max_length=16, choices=JourneyStep.choices)
    text = models.CharField(_("criterion"), max_length=300)
    weight = models.PositiveSmallIntegerField(
        _("weight"), default=1, validators=[MinValueValidator(1), MaxValueValidator(10)]
    )
    scale_max = models.PositiveSmallIntegerField(
        _("scale"),
        default=5,
        choices=[(1, _("Yes / no")), (5, _("1 to 5")), (10, _("0 to 10"))],
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("audit criterion")
        verbose_name_plural = _("audit criteria")
        ordering = ["template", "position", "id"]

    def __str__(self) -> str:
        return self.text

    @property
    def scale_min(self) -> int:
        return 1 if self.scale_max == 5 else 0

    def fraction(self, value: int) -> float:
        """How good ``value`` is on this criterion's scale, from 0 (worst) to 1 (best)."""
        low = self.scale_min
        return (value - low) / (self.scale_max - low)


class AuditStatus(models.TextChoices):
    ASSIGNED = "assigned", _("Assigned")
    IN_PROGRESS = "in_progress", _("In progress")
    SUBMITTED = "submitted", _("Submitted")


class Audit(TimeStampedModel):
    """One mystery-shopper visit: a checklist version applied to a location, channel and employee."""

    # Auditors see only the audits assigned to them (even for viewing); managers see them all.
    scope_private = True
    scope_owner_fields = ("auditor",)

    template = models.ForeignKey(
        AuditTemplate, on_delete=models.PROTECT, related_name="audits", verbose_name=_("checklist")
    )
    auditor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="audits", verbose_name=_("auditor")
    )
    location = models.CharField(_("location"), max_length=120)
    channel = models.CharField(_("channel"), max_length=8, choices=AuditChannel.choices)
    employee = models.CharField(_("employee audited"), max_length=120, blank=True)
    scheduled_on = models.DateField(_("date"))
    status = models.CharField(
        _("status"), max_length=12, choices=AuditStatus.choices, default=AuditStatus.ASSIGNED
    )
    notes = models.TextField(_("notes"), blank=True, max_length=5000)
    score = models.DecimalField(_("score"), max_digits=5, decimal_places=1, null=True, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )

    class Meta:
        verbose_name = _("service audit")
        verbose_name_plural = _("service audits")
        ordering = ["-scheduled_on", "-id"]
        indexes = [models.Index(fields=["status", "scheduled_on"], name="audit_status_date")]

    def __str__(self) -> str:
        return f"{self.location} · {self.get_channel_display()} · {self.scheduled_on:%Y-%m-%d}"

    @property
    def submitted(self) -> bool:
        return self.status == AuditStatus.SUBMITTED


class AuditAnswer(models.Model):
    """The auditor's mark on one criterion of one audit (or "does not apply"), with a comment."""

    scope_private = True
    scope_owner_fields = ("audit__auditor",)

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="answers")
    criterion = models.ForeignKey(AuditCriterion, on_delete=models.PROTECT, related_name="answers")
    value = models.PositiveSmallIntegerField(_("mark"), null=True, blank=True)
    not_applicable = models.BooleanField(_("does not apply"), default=False)
    comment = models.CharField(_("comment"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("audit answer")
        verbose_name_plural = _("audit answers")
        constraints = [models.UniqueConstraint(fields=["audit", "criterion"], name="auditanswer_once")]

    def __str__(self) -> str:
        return f"{self.criterion}: {'n/a' if self.not_applicable else self.value}"


class AuditPhoto(TimeStampedModel):
    """A photo taken during an audit, re-encoded as JPEG on upload (nothing else is ever stored)."""

    MAX_UPLOAD_BYTES = 8 * 1024 * 1024
    MAX_SIDE = 1600
    scope_private = True
    scope_owner_fields = ("audit__auditor",)

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="photos")
    step = models.CharField(_("journey step"), max_length=16, choices=JourneyStep.choices)
    caption = models.CharField(_("caption"), max_length=200, blank=True)
    image = models.BinaryField(_("image (JPEG)"))
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("audit photo")
        verbose_name_plural = _("audit photos")
        ordering = ["audit", "step", "id"]

    def __str__(self) -> str:
        return self.caption or f"{self.get_step_display()} #{self.pk}"


class AuditFinding(TimeStampedModel):
    """A weak point of an audit turned into a corrective task for someone, with a due date."""

    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="findings")
    criterion = models.ForeignKey(
        AuditCriterion, on_delete=models.SET_NULL, null=True, blank=True, related_name="findings"
    )
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="audit_finding")

    class Meta:
        verbose_name = _("audit finding")
        verbose_name_plural = _("audit findings")
        ordering = ["audit", "id"]

    def __str__(self) -> str:
        return self.task.title
