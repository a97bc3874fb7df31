"""Opportunities (deals) and the pipelines they move through.

A pipeline is an ordered list of open stages, each with the probability an opportunity there usually
has of being won and how many idle days make it "rot" (Pipedrive's word: nobody has touched it for
too long). An opportunity ends won (optionally with its order in ``sales``) or lost, with a reason
from a managed list. Every move is kept in :class:`OpportunityStageChange`, which the bottleneck
report reads.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cartera.core.models import TimeStampedModel
from cartera.core.money import base_currency
from cartera.customers.models import Company, Customer, Source
from cartera.sales.models import Order

PERCENT = [MinValueValidator(0), MaxValueValidator(100)]


class Pipeline(models.Model):
    """A named sequence of stages (new business, renewals...), managed in the app by managers."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class PipelineStage(models.Model):
    """One open stage of a pipeline, with its default win probability and its rotting threshold."""

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.CASCADE, related_name="stages", verbose_name=_("pipeline")
    )
    name = models.CharField(_("name"), max_length=80)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("probability (%)"), default=10, validators=PERCENT,
        help_text=_("How often an opportunity in this stage is won; the default for new ones."),
    )  # fmt: skip
    rotting_days = models.PositiveSmallIntegerField(
        _("rotting after (days)"), null=True, blank=True,
        help_text=_("An opportunity idle longer than this in the stage is marked. Empty: never."),
    )  # fmt: skip

    class Meta:
        verbose_name = _("pipeline stage")
        verbose_name_plural = _("pipeline stages")
        ordering = ["pipeline", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="pipelinestage_name_unique"),
        ]

    def __str__(self) -> str:
        return self.name


class LostReason(models.Model):
    """Why an opportunity was lost (price, timing, competitor...): a list managers keep."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class OpportunityStatus(models.TextChoices):
    OPEN = "open", _("Open")
    WON = "won", _("Won")
    LOST = "lost", _("Lost")


class Opportunity(TimeStampedModel):
    """A possible sale to a customer or a company, moving through a pipeline until won or lost.

    Private to its owner: a sales rep sees and works their own opportunities, managers and admins all
    of them (``scope_private``; see cartera/core/scoping.py).
    """

    scope_owner_fields = ("owner",)
    scope_private = True

    pipeline = models.ForeignKey(
        Pipeline, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("pipeline")
    )
    stage = models.ForeignKey(
        PipelineStage, on_delete=models.PROTECT, related_name="opportunities", verbose_name=_("stage")
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, null=True, blank=True,
        related_name="opportunities", verbose_name=_("customer"),
    )  # fmt: skip
    company = models.ForeignKey(
        Company, on_delete=models.CASCADE, null=True, blank=True,
        related_name="opportunities", verbose_name=_("company"),
    )  # fmt: skip
    title = models.CharField(_("title"), max_length=200)
    value = models.DecimalField(
        _("value"), max_digits=12, decimal_places=2, default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0"))],
    )  # fmt: skip
    currency = models.CharField(_("currency"), max_length=3, default=base_currency)  # as Order's
    expected_close_on = models.DateField(_("expected close"), null=True, blank=True)
    probability = models.PositiveSmallIntegerField(_("probability (%)"), default=10, validators=PERCENT)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
        related_name="opportunities", verbose_name=_("owner"),
    )  # fmt: skip
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    next_step = models.CharField(_("next step"), max_length=200, blank=True)
    next_step_on = models.DateField(_("next step on"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=4, choices=OpportunityStatus.choices, default=OpportunityStatus.OPEN
    )
    stage_entered_at = models.DateTimeField(_("in this stage since"), default=timezone.now)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    lost_reason = models.ForeignKey(
        LostReason, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("lost reason"),
    )  # fmt: skip
    lost_note = models.CharField(_("lost note"), max_length=300, blank=True)
    order = models.ForeignKey(
        Order, on_delete=models.SET_NULL, null=True, blank=True, related_name="opportunities",
        verbose_name=_("order"),
    )  # fmt: skip
    # Qualification checklist (need, budget, decision-maker, timing), kept on the record.
    has_need = models.BooleanField(_("need confirmed"), default=False)
    has_budget = models.BooleanField(_("budget confirmed"), default=False)
    has_decision_maker = models.BooleanField(_("talking to the decision-maker"), default=False)
    has_timing = models.BooleanField(_("timing agreed"), default=False)
    qualification_notes = models.TextField(_("qualification notes"), blank=True)

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["-id"]
        permissions = [
            ("reassign_opportunity", _("Can give opportunities to another member of the team")),
            ("manage_pipeline", _("Can manage pipelines, stages and lost reasons")),
        ]
        indexes = [
            models.Index(fields=["status", "stage", "-value", "id"], name="opportunity_board"),
            models.Index(fields=["owner", "status"], name="opportunity_owner_status"),
            models.Index(fields=["status", "expected_close_on"], name="opportunity_close"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(customer__isnull=False) | models.Q(company__isnull=False),
                name="opportunity_has_customer_or_company",
            ),
            models.CheckConstraint(condition=models.Q(value__gte=0), name="opportunity_value_not_negative"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def weighted_value(self) -> Decimal:
        """The value times the probability: what the forecast counts."""
        return (self.value * self.probability / 100).quantize(Decimal("0.01"))

    @property
    def qualification_score(self) -> int:
        """How many of the four qualification questions are answered yes (0-4)."""
        return sum((self.has_need, self.has_budget, self.has_decision_maker, self.has_timing))

    def idle_days(self, now: datetime.datetime | None = None) -> int:
        """Whole days since the opportunity last moved or was worked on (a move touches both dates)."""
        now = now or timezone.now()
        return max(0, (now - self.last_activity_at).days)

    def is_rotting(self, now: datetime.datetime | None = None) -> bool:
        """Open and idle longer than its stage allows."""
        days = self.stage.rotting_days
        return self.status == OpportunityStatus.OPEN and days is not None and self.idle_days(now) > days


class OpportunityStageChange(models.Model):
    """One move of an opportunity: stage to stage, or closing (won / lost), by whom and when.

    The bottleneck report measures time in stage and conversion from these rows.
    """

    scope_owner_fields = ("opportunity__owner",)
    scope_private = True

    opportunity = models.ForeignKey(
        Opportunity, on_delete=models.CASCADE, related_name="stage_changes", verbose_name=_("opportunity")
    )
    from_stage = models.ForeignKey(
        PipelineStage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("from"),
    )  # fmt: skip
    to_stage = models.ForeignKey(
        PipelineStage, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("to"),
    )  # fmt: skip
    outcome = models.CharField(_("outcome"), max_length=4, choices=OpportunityStatus.choices,
                               default=OpportunityStatus.OPEN)  # fmt: skip
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("changed by"),
    )  # fmt: skip
    changed_at = models.DateTimeField(_("when"), default=timezone.now)
    # Seconds spent in ``from_stage`` before this move (None for the opening row).
    seconds_in_stage = models.BigIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = _("opportunity stage change")
        verbose_name_plural = _("opportunity stage changes")
        ordering = ["-changed_at", "-id"]
        indexes = [
            models.Index(fields=["opportunity", "changed_at"], name="oppchange_opportunity_when"),
            models.Index(fields=["from_stage", "changed_at"], name="oppchange_from_when"),
        ]

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id} → {self.to_stage_id or self.outcome}"

    @property
    def days_in_stage(self) -> int | None:
        """Whole days spent in ``from_stage`` before this move."""
        return None if self.seconds_in_stage is None else self.seconds_in_stage // 86_400


class CallList(models.Model):
    """A list of people for one member of the team to call on a day, built by a manager from a segment.

    Each rep also has an automatic list for today (at-risk customers, hot opportunities, overdue
    follow-ups, new leads: :func:`cartera.pipeline.selectors.calls_today`); assigned lists come first.
    """

    scope_owner_fields = ("assignee",)
    scope_private = True

    name = models.CharField(_("name"), max_length=120)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="call_lists",
        verbose_name=_("assigned to"),
    )
    for_date = models.DateField(_("to call on"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("call list")
        verbose_name_plural = _("call lists")
        ordering = ["-for_date", "-id"]

    def __str__(self) -> str:
        return self.name


class CallOutcome(models.TextChoices):
    REACHED = "reached", pgettext_lazy("call outcome", "Reached")
    NO_ANSWER = "no_answer", _("No answer")
    CALL_BACK = "call_back", _("Call back")


class CallListEntry(models.Model):
    """One person on a call list, and how the call went."""

    scope_owner_fields = ("call_list__assignee",)
    scope_private = True

    call_list = models.ForeignKey(CallList, on_delete=models.CASCADE, related_name="entries",
                                  verbose_name=_("call list"))  # fmt: skip
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer")
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    outcome = models.CharField(_("outcome"), max_length=10, choices=CallOutcome.choices, blank=True)
    called_at = models.DateTimeField(_("called"), null=True, blank=True)

    class Meta:
        verbose_name = _("call list entry")
        verbose_name_plural = _("call list entries")
        ordering = ["call_list", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["call_list", "customer"], name="calllistentry_once_per_list")
        ]

    def __str__(self) -> str:
        return f"{self.call_list_id}: {self.customer_id}"


class LeadAssignment(models.TextChoices):
    FIXED = "fixed", _("Always the same person")
    ROUND_ROBIN = "round_robin", _("In turn among several people")


class LeadForm(TimeStampedModel):
    """A public web form that brings people in as suspects or prospects (lead capture).

    It asks for the customer fields chosen by a manager (custom fields included), shows a consent
    checkbox for marketing e-mail whose exact text and version are kept with every answer, and gives
    each new lead to an owner (always the same person, or in turn). It can be embedded in a website
    (an iframe, or the small script ``pipeline/lead-embed.js``); ``allowed_origins`` are the sites
    that may frame it (the page's ``frame-ancestors``).
    """

    scope_owner_fields = ("created_by",)

    name = models.CharField(_("name"), max_length=120, help_text=_("For you; the reports use it."))
    slug = models.SlugField(_("address"), max_length=60, unique=True)
    active = models.BooleanField(_("accepting answers"), default=True)
    title = models.CharField(_("heading"), max_length=150)
    intro = models.TextField(_("introduction"), blank=True)
    thank_you = models.TextField(_("thank-you text"), blank=True)
    language = models.CharField(
        _("language"), max_length=2, choices=[("es", "Español"), ("en", "English")], default="es",
        help_text=_("Of the page and the confirmation e-mail, unless the page is opened in another."),
    )  # fmt: skip
    # Names from the customer field table (``first_name``...) and ``cf:<key>`` for custom fields.
    fields = models.JSONField(_("fields"), default=list)
    required_fields = models.JSONField(_("required fields"), default=list)
    stage = models.CharField(_("new leads enter as"), max_length=10, default="prospect")
    consent_text = models.TextField(_("consent text"), blank=True)
    consent_version = models.PositiveIntegerField(_("consent text version"), default=1)
    allowed_origins = models.TextField(
        _("websites that may embed it"), blank=True,
        help_text=_("One per line, e.g. https://www.example.com. Empty: it cannot be embedded."),
    )  # fmt: skip
    assignment = models.CharField(
        _("owner of new leads"), max_length=12, choices=LeadAssignment.choices, default=LeadAssignment.FIXED
    )
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("person"),
    )  # fmt: skip
    round_robin_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+", verbose_name=_("people taking turns")
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        editable=False,
    )  # fmt: skip
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("created by"),
    )  # fmt: skip

    class Meta:
        verbose_name = _("lead form")
        verbose_name_plural = _("lead forms")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def consent_version_label(self) -> str:
        """The version stored in the consent ledger: which form and which wording of it."""
        return f"leadform-{self.pk}-v{self.consent_version}"

    def origin_list(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]


class LeadSubmission(models.Model):
    """One answer to a lead form: what was sent, where from (page, UTM), the consent as shown, and
    what it became (a new lead or an existing customer, never a second record).

    The marketing consent is granted in the ledger only when the person confirms it from the e-mail
    (double opt-in): ``confirmed_at``.
    """

    scope_owner_fields = ("customer__owner",)
    scope_private = True

    form = models.ForeignKey(LeadForm, on_delete=models.CASCADE, related_name="submissions",
                             verbose_name=_("form"))  # fmt: skip
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="lead_submissions", verbose_name=_("customer")
    )
    created_new = models.BooleanField(_("new lead"), default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("owner"),
    )  # fmt: skip
    answers = models.JSONField(_("answers"), default=dict)
    language = models.CharField(_("language"), max_length=8, default="es")
    page_url = models.CharField(_("page"), max_length=500, blank=True)
    utm_source = models.CharField("utm_source", max_length=100, blank=True)
    utm_medium = models.CharField("utm_medium", max_length=100, blank=True)
    utm_campaign = models.CharField("utm_campaign", max_length=100, blank=True)
    utm_term = models.CharField("utm_term", max_length=100, blank=True)
    utm_content = models.CharField("utm_content", max_length=100, blank=True)
    consent_asked = models.BooleanField(_("consent asked"), default=False)
    consent_ticked = models.BooleanField(_("consent ticked"), default=False)
    consent_text = models.TextField(_("consent text shown"), blank=True)
    consent_version = models.CharField(_("consent text version"), max_length=40, blank=True)
    confirmation_sent_at = models.DateTimeField(_("confirmation sent"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    created_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        verbose_name = _("lead form answer")
        verbose_name_plural = _("lead form answers")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["form", "-created_at"], name="leadsubmission_form"),
            models.Index(fields=["utm_campaign"], name="leadsubmission_campaign"),
        ]

    def __str__(self) -> str:
        return f"{self.form_id}: {self.customer_id}"


class ProspectFit(models.Model):
    """How much a suspect or prospect looks like the customers who bring the revenue (the top 20 %),
    0-100, with the attributes that make them look so (``reasons``: ``[[attribute, value, weight]]``).

    Written by :func:`cartera.pipeline.services.prospect_fit_refresh` after each analysis refresh, from
    the model in :mod:`customerbase.fit`; read by the customer page, the prospect list and the calls.
    """

    scope_owner_fields = ("customer__owner",)

    customer = models.OneToOneField(
        Customer, on_delete=models.CASCADE, primary_key=True, related_name="prospect_fit",
        verbose_name=_("customer"),
    )  # fmt: skip
    score = models.PositiveSmallIntegerField(_("fit score"))
    reasons = models.JSONField(_("why"), default=list)
    # The persona whose paying members the prospect looks most like (``customerbase.fit.closest_group``):
    # "like your 'Compradores frecuentes' persona". None: like none of them more than like the rest.
    persona = models.ForeignKey(
        "segments.Persona", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("closest persona"),
    )  # fmt: skip
    computed_at = models.DateTimeField(_("computed at"), default=timezone.now)

    class Meta:
        verbose_name = _("prospect fit")
        verbose_name_plural = _("prospect fits")
        indexes = [models.Index(fields=["-score", "customer"], name="prospectfit_score")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.score}"


class ReportFigures(models.Model):
    """The costly half of a report, counted by the worker for big pipelines and big files
    (``CARTERA_REPORT_INLINE_MAX``): what the moves and the closed opportunities of a pipeline say
    (``key`` ``"bottlenecks:<pipeline>:<owner or all>"``), or where the revenue comes from
    (``"attribution"``). Read by the report page for users who see every row, with the time it was
    counted; ``stamp`` is what the data looked like when the count began (the last move, the number
    of opportunities, the last edit, or the last refresh of the analysis): when the data no longer
    matches it, the page shows these figures and the worker counts them again."""

    key = models.CharField(max_length=80, unique=True)
    figures = models.JSONField(default=dict)
    stamp = models.JSONField(default=list)
    counted_at = models.DateTimeField(null=True, blank=True)
    wanted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("report figures")
        verbose_name_plural = _("report figures")

    def __str__(self) -> str:
        return f"{self.key}: {self.counted_at}"

    def stale(
        self, stamp: list[object], *, max_age: datetime.timedelta, now: datetime.datetime | None = None
    ) -> bool:
        """Whether the data changed since the count began (``stamp``), someone asked for a new count,
        or the count is older than ``max_age``."""
        if self.counted_at is None:
            return True
        old = self.counted_at < (now or timezone.now()) - max_age
        return old or self.wanted_at > self.counted_at or self.stamp != stamp
