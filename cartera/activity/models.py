"""The customer timeline: interactions, and the tasks and reminders of the team."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.core.models import TimeStampedModel
from cartera.customers.models import Customer


class InteractionKind(models.TextChoices):
    CALL = "call", _("Call")
    EMAIL = "email", _("Email")
    MEETING = "meeting", _("Meeting")
    VISIT = "visit", _("Visit")
    CHAT = "chat", _("Chat")
    SOCIAL = "social", _("Social message")
    NOTE = "note", _("Note")


class Direction(models.TextChoices):
    OUTBOUND = "outbound", _("We contacted them")
    INBOUND = "inbound", _("They contacted us")
    INTERNAL = "internal", _("Internal note")


class Outcome(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEUTRAL = "neutral", _("Neutral")
    NEGATIVE = "negative", _("Negative")
    NO_ANSWER = "no_answer", _("No answer")
    FOLLOW_UP = "follow_up", _("Needs follow-up")


class Interaction(TimeStampedModel):
    """One contact with a customer, logged by a member of the team."""

    PERSONAL_DATA_FIELDS = ("subject", "body")
    scope_owner_fields = ("author",)

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="interactions", verbose_name=_("customer")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=InteractionKind.choices)
    direction = models.CharField(
        _("direction"), max_length=10, choices=Direction.choices, default=Direction.OUTBOUND
    )
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="interactions",
        verbose_name=_("author"),
    )
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("text"), blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices, blank=True)

    class Meta:
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        ordering = ["-occurred_at", "-id"]
        permissions = [("export_interaction", _("Can export interactions"))]
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="interaction_customer_when")]

    def __str__(self) -> str:
        # The date's format applies to the date only: a subject is shown as it is.
        return f"{self.get_kind_display()} · {self.subject or f'{self.occurred_at:%Y-%m-%d}'}"


class Task(TimeStampedModel):
    """A to-do or reminder for one member of the team, optionally about a customer."""

    # Whoever the task is assigned to now controls it; its creator no longer does once it is
    # reassigned (managers and admins act on every task anyway).
    scope_owner_fields = ("assignee",)

    title = models.CharField(_("title"), max_length=200)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="tasks",
        verbose_name=_("customer"),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="assigned_tasks",
        verbose_name=_("assigned to"),
    )
    due_at = models.DateTimeField(_("due"))
    done = models.BooleanField(_("done"), default=False)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # When the assignee first saw a task someone else gave them; empty means "new" (the badge).
    seen_at = models.DateTimeField(_("seen at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="created_tasks",
        verbose_name=_("created by"),
    )

    class Meta:
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        ordering = ["done", "due_at", "id"]
        permissions = [("assign_task", _("Can give tasks to colleagues"))]
        indexes = [
            models.Index(fields=["assignee", "done", "due_at"], name="task_assignee_open_due"),
            models.Index(fields=["customer", "-due_at"], name="task_customer_due"),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self) -> bool:
        """An open task whose due time has passed."""
        return not self.done and self.due_at < timezone.now()
