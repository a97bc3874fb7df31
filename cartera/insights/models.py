"""Results of the customer-base analysis: one metrics row per customer and a daily portfolio snapshot.

They are recomputed by :func:`cartera.insights.services.insights_refresh` (``cartera refresh`` or the
background task) from the orders; nothing here is edited by people.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import ExpressionWrapper, F, FloatField, Q, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from cartera.core.models import ChoiceLabels

# Re-exported: the choices are declared below this app so that customers can show them.
from cartera.customers.classification import ABCClass as ABCClass
from cartera.customers.classification import Lifecycle as Lifecycle
from cartera.customers.classification import RFMSegment as RFMSegment
from cartera.customers.models import Customer


def at_risk_condition() -> Q:
    """The customers the dashboard's "Anticipate" lists: at risk or declining, with a 12-month value."""
    return (Q(lifecycle="at_risk") | Q(declining=True)) & Q(clv_12m__isnull=False)


def value_at_risk() -> ExpressionWrapper[Any]:
    """12-month value x (1 - P(alive)): what is lost if the customer goes. One definition for the
    selector that sorts by it and the index that serves that sort (PostgreSQL uses an expression
    index only for the same expression)."""
    return ExpressionWrapper(
        F("clv_12m") * (Value(1.0) - Coalesce(F("p_alive"), Value(0.0))), output_field=FloatField()
    )


class CustomerMetrics(ChoiceLabels):
    """What the analysis says about one customer, as of ``computed_at``."""

    customer = models.OneToOneField(
        Customer,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="metrics",
        verbose_name=_("customer"),
    )
    orders_count = models.PositiveIntegerField(_("orders"), default=0)
    revenue = models.DecimalField(_("revenue"), max_digits=14, decimal_places=2, default=0)
    first_order_on = models.DateField(_("first purchase"), null=True)
    last_order_on = models.DateField(_("last purchase"), null=True)
    recency_days = models.IntegerField(_("days since last purchase"), null=True)
    frequency = models.PositiveIntegerField(_("repeat purchases"), default=0)
    monetary = models.DecimalField(_("average repeat purchase"), max_digits=12, decimal_places=2, default=0)
    tenure_days = models.IntegerField(_("days since first purchase"), null=True)
    usual_interval_days = models.FloatField(_("usual days between purchases"), null=True)
    p_alive = models.FloatField(_("probability still active"), null=True)
    expected_purchases_90d = models.FloatField(_("expected purchases, next 90 days"), null=True)
    # The probability shown to users: at least one purchase in the next 90 days, from the model the
    # latest backtest chose (never BG/NBD's P(alive), which is 1 for every one-time buyer).
    p_purchase_90d = models.FloatField(_("probability of buying, next 90 days"), null=True)
    clv_12m = models.DecimalField(_("12-month value (CLV)"), max_digits=14, decimal_places=2, null=True)
    r_score = models.PositiveSmallIntegerField(_("R score"), null=True)
    f_score = models.PositiveSmallIntegerField(_("F score"), null=True)
    m_score = models.PositiveSmallIntegerField(_("M score"), null=True)
    rfm_segment = models.CharField(_("RFM segment"), max_length=20, choices=RFMSegment.choices, blank=True)
    abc_class = models.CharField(_("ABC class"), max_length=1, choices=ABCClass.choices, blank=True)
    lifecycle = models.CharField(
        _("status"), max_length=10, choices=Lifecycle.choices, default=Lifecycle.PROSPECT
    )
    reason_code = models.CharField(_("reason"), max_length=30, blank=True)
    reason_data = models.JSONField(_("reason figures"), default=dict, blank=True)
    declining = models.BooleanField(_("orders declining"), default=False)
    decline_since = models.DateField(_("declining since"), null=True)
    # For inactive and lost customers: the day they left the active base (the first day past the
    # limit they crossed after their last purchase), so that "who left this month" is one range.
    left_active_on = models.DateField(_("left the active base on"), null=True)
    computed_at = models.DateTimeField(_("computed at"))
    # A copy of the customer's stage, so that a segment mixing the stage with analysis conditions is
    # counted on this table's covering index alone, without a join with the customer file (the
    # join costs one probe per match). Written by the refresh and by save(); a trigger on the
    # customers table keeps it current when a stage changes (migration 0003).
    stage = models.CharField(_("stage"), max_length=10, blank=True, default="", editable=False)

    class Meta:
        verbose_name = _("customer metrics")
        verbose_name_plural = _("customer metrics")
        indexes = [
            models.Index(fields=["lifecycle", "customer"], name="metrics_lifecycle"),
            models.Index(fields=["rfm_segment", "customer"], name="metrics_rfm_segment"),
            models.Index(fields=["abc_class", "customer"], name="metrics_abc"),
            models.Index(fields=["declining", "customer"], name="metrics_declining"),
            models.Index(fields=["-revenue", "customer"], name="metrics_revenue"),
            models.Index(fields=["-clv_12m", "customer"], name="metrics_clv"),
            models.Index(fields=["-last_order_on", "customer"], name="metrics_last_order"),
            models.Index(fields=["left_active_on", "customer"], name="metrics_left_active"),
            # Counting a segment: every analysis field a segment can test, so that a count reads
            # this index alone (and, for definitions mixing profile fields, the customer id to join
            # on) instead of the wide table. Lifecycle leads: it is the most used condition.
            models.Index(
                fields=[
                    "lifecycle",
                    "rfm_segment",
                    "abc_class",
                    "orders_count",
                    "revenue",
                    "clv_12m",
                    "p_alive",
                    "last_order_on",
                    "first_order_on",
                    "recency_days",
                    "r_score",
                    "f_score",
                    "m_score",
                    "declining",
                    "stage",
                    "customer",
                ],
                name="metrics_segment_cover",
            ),
            # A sales rep's "Anticipate" (the home page): the at-risk customers in order of value at
            # risk, walked until enough of them are hers, instead of sorting 340,000 rows per view
            # at 1,000,000 customers (250 ms).
            models.Index(
                value_at_risk().desc(),
                F("customer").asc(),
                condition=at_risk_condition(),
                name="metrics_value_at_risk",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.lifecycle}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Rows saved one by one take their customer's stage (the refresh writes it in bulk)."""
        if not self.stage:
            self.stage = self.customer.stage
        super().save(*args, **kwargs)


class PortfolioSnapshot(models.Model):
    """The portfolio on one day, kept for history so that trends can be drawn."""

    taken_on = models.DateField(_("date"), unique=True)
    customers_total = models.PositiveIntegerField(_("people in the file"), default=0)
    by_lifecycle = models.JSONField(_("customers by status"), default=dict)
    active_base = models.PositiveIntegerField(_("active base (new, one-time, active, at risk)"), default=0)
    new_customers = models.PositiveIntegerField(_("new customers in the period"), default=0)
    reactivated = models.PositiveIntegerField(_("reactivated in the period"), default=0)
    newly_inactive = models.PositiveIntegerField(_("newly inactive in the period"), default=0)
    period_days = models.PositiveIntegerField(_("period length (days)"), default=0)
    revenue_period = models.DecimalField(
        _("revenue in the period"), max_digits=16, decimal_places=2, default=0
    )
    revenue_12m = models.DecimalField(
        _("revenue, last 12 months"), max_digits=16, decimal_places=2, default=0
    )
    top20_share = models.FloatField(_("share of revenue from the top 20%"), null=True)
    model_name = models.CharField(_("model"), max_length=30, blank=True)
    model_params = models.JSONField(_("model parameters"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed at"))

    class Meta:
        verbose_name = _("portfolio snapshot")
        verbose_name_plural = _("portfolio snapshots")
        ordering = ["-taken_on"]

    def __str__(self) -> str:
        return str(self.taken_on)


class RefreshRun(models.Model):
    """One recomputation of the metrics: who asked, how long it took, and how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(_("trigger"), max_length=30, default="manual")
    customers = models.PositiveIntegerField(_("customers"), default=0)
    orders = models.PositiveIntegerField(_("orders"), default=0)
    seconds = models.FloatField(_("seconds"), null=True)
    model_name = models.CharField(_("model"), max_length=30, blank=True)
    model_params = models.JSONField(_("model parameters"), default=dict, blank=True)
    log_likelihood = models.FloatField(_("log-likelihood"), null=True)
    note = models.TextField(_("note"), blank=True)
    # Who holds the one-at-a-time lock while the run is "running": host, process id (and its start
    # time, so that a reused pid is not mistaken for the holder) and the worker's task id, if any;
    # the holder touches ``heartbeat_at`` every few seconds. A dead holder or a silent one is taken
    # over by the next refresh (services.refresh_lock_take).
    holder = models.JSONField(_("held by"), default=dict, blank=True)
    heartbeat_at = models.DateTimeField(_("last sign of life"), null=True)

    class Meta:
        verbose_name = _("refresh run")
        verbose_name_plural = _("refresh runs")
        ordering = ["-started_at"]
        constraints = [
            # One refresh at a time, enforced by the database whatever process starts it.
            models.UniqueConstraint(
                fields=["status"], condition=models.Q(status="running"), name="one_running_refresh"
            )
        ]

    def __str__(self) -> str:
        return f"{self.started_at:%Y-%m-%d %H:%M} {self.status}"


class Backtest(models.Model):
    """One check of the predictions against what customers really did next (``cartera holdout``).

    The models are calibrated on the orders up to ``cutoff`` and their predictions compared with the
    orders up to ``holdout_end``; ``result`` holds the whole report in the JSON form documented in
    docs/analytics.md. The latest finished one chooses the model behind the shown figures.
    """

    class Status(models.TextChoices):
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    started_at = models.DateTimeField(_("started"))
    seconds = models.FloatField(_("seconds"), null=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DONE)
    trigger = models.CharField(_("trigger"), max_length=30, default="manual")
    cutoff = models.DateField(_("cut-off"))
    holdout_end = models.DateField(_("end of the checked period"))
    customers = models.PositiveIntegerField(_("customers"), default=0)
    shown_model = models.CharField(_("model chosen"), max_length=30, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    note = models.TextField(_("note"), blank=True)
    # The background task that ran it (a ``check_predictions`` task result id), so that the API's
    # job status can say which backtest a queued job produced; empty when run from the command line.
    task_id = models.CharField(_("background task"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("prediction backtest")
        verbose_name_plural = _("prediction backtests")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.cutoff} → {self.holdout_end}: {self.shown_model or self.status}"
