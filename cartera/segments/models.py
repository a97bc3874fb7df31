"""Saved segments, personas and the portfolio figures kept with each snapshot for the dashboard.

A segment's ``definition`` is JSON checked against an allowlist (:mod:`cartera.segments.rules`);
it is never turned into SQL text or arbitrary ORM lookups.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from cartera.core.models import TimeStampedModel
from cartera.customers.models import Customer, IncomeRange

MAX_AGE = 150  # the oldest age a persona (or a segment's age condition) may name


class Segment(TimeStampedModel):
    """A named set of customers: re-evaluated on use (dynamic) or frozen as a static list."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (re-evaluated on use)")
        STATIC = "static", _("Frozen list")

    scope_owner_fields = ("owner",)

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    definition = models.JSONField(_("conditions"), default=dict)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    frozen_at = models.DateTimeField(_("frozen at"), null=True, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="segments",
        verbose_name=_("owner"),
    )

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_static(self) -> bool:
        return self.kind == self.Kind.STATIC


class SegmentMember(models.Model):
    """One customer of a frozen segment."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships")

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [models.UniqueConstraint(fields=["segment", "customer"], name="segment_member_unique")]

    def __str__(self) -> str:
        return f"{self.segment_id}: {self.customer_id}"


class Persona(TimeStampedModel):
    """A description of a typical customer, with the rule (a segment definition) or hand-picked list
    that says who belongs to it."""

    scope_owner_fields = ("owner",)

    name = models.CharField(_("name"), max_length=100)
    initials = models.CharField(_("initials"), max_length=3, blank=True)
    description = models.TextField(_("description"), blank=True)
    age_min = models.PositiveSmallIntegerField(
        _("age from"), null=True, blank=True, validators=[MaxValueValidator(MAX_AGE)]
    )
    age_max = models.PositiveSmallIntegerField(
        _("age to"), null=True, blank=True, validators=[MaxValueValidator(MAX_AGE)]
    )
    region = models.CharField(_("region"), max_length=200, blank=True)
    income_range = models.CharField(_("salary range"), max_length=10, choices=IncomeRange.choices, blank=True)
    needs = models.TextField(_("needs"), blank=True)
    looks_for = models.TextField(_("what they look for"), blank=True)
    solutions = models.TextField(_("solutions they need"), blank=True)
    company_type = models.CharField(_("company type (B2B)"), max_length=120, blank=True)
    buyer_position = models.CharField(_("buyer's position (B2B)"), max_length=120, blank=True)
    message = models.TextField(
        _("message and approach"),
        blank=True,
        help_text=_("What to tell them, and how: the message and the strategy that fit this persona."),
    )
    definition = models.JSONField(_("assignment rule"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="personas",
        verbose_name=_("owner"),
    )
    members = models.ManyToManyField(
        Customer, blank=True, related_name="personas", verbose_name=_("assigned by hand")
    )

    class Meta:
        verbose_name = _("persona")
        verbose_name_plural = _("personas")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValidationError({"age_max": _("The age range ends before it starts.")})

    @property
    def display_initials(self) -> str:
        if self.initials:
            return self.initials
        return "".join(part[0] for part in self.name.split()[:2]).upper()


class PersonaSuggestionRun(models.Model):
    """The result of "suggest personas from my data": cluster centres and scaling, so that adopting a
    suggestion later assigns exactly the customers of that cluster."""

    scope_owner_fields = ("created_by",)

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    k = models.PositiveSmallIntegerField(_("groups"))
    silhouette = models.FloatField(_("silhouette"), null=True)
    model = models.JSONField(_("model"), default=dict)
    suggestions = models.JSONField(_("suggestions"), default=list)
    customers = models.PositiveIntegerField(_("customers"), default=0)
    seconds = models.FloatField(_("seconds"), default=0)

    class Meta:
        verbose_name = _("persona suggestion run")
        verbose_name_plural = _("persona suggestion runs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} k={self.k}"

    # Kaufman & Rousseeuw's reading of the mean silhouette width (Finding Groups in Data, 1990):
    # above 0.5 a reasonable structure has been found, 0.25 to 0.5 a weak one, below 0.25 hardly any.
    CLEAR_SEPARATION = 0.5
    SOME_SEPARATION = 0.25

    @property
    def separation(self) -> str:
        """How distinct the suggested groups are, for the page to say in words: ``clear``, ``some``
        or ``overlap`` (``unknown`` without a score)."""
        if self.silhouette is None:
            return "unknown"
        if self.silhouette >= self.CLEAR_SEPARATION:
            return "clear"
        return "some" if self.silhouette >= self.SOME_SEPARATION else "overlap"


class PortfolioFigures(models.Model):
    """Figures the dashboard, Pareto and RFM views draw, computed once per portfolio snapshot.

    ``cohorts`` holds the retention table (cohort month x months since first purchase);
    ``rfm``/``rfm_moves`` the named segments and the moves since the previous month end;
    ``abc`` counts and revenue per class; ``pareto`` the cumulative revenue curve;
    ``at_risk_ids`` the customers with the most value at risk, best first; ``stages`` the number of
    customers per stage when the figures were computed (the dashboard's cards: counting a million
    customers per page view is what the dashboard must not do); ``other_currencies`` the orders in
    another currency than the base one, which every figure leaves out (``None``: not counted yet).
    """

    #: Not stored: set on the previous figures that the pages show while the worker computes the
    #: latest snapshot's (``segments.services.figures_current``).
    pending: bool = False

    taken_on = models.DateField(_("date"), unique=True)
    snapshot_computed_at = models.DateTimeField(_("snapshot computed at"))
    computed_at = models.DateTimeField(_("computed at"))
    cohorts = models.JSONField(default=dict)
    rfm = models.JSONField(default=dict)
    rfm_moves = models.JSONField(default=dict)
    abc = models.JSONField(default=dict)
    pareto = models.JSONField(default=dict)
    at_risk_ids = models.JSONField(default=list)
    stages = models.JSONField(default=dict)
    other_currencies = models.JSONField(null=True, blank=True)

    class Meta:
        verbose_name = _("portfolio figures")
        verbose_name_plural = _("portfolio figures")
        ordering = ["-taken_on"]

    def __str__(self) -> str:
        return str(self.taken_on)
