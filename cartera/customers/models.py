"""The customer file: customers, their companies, tags and admin-defined custom fields."""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F
from django.db.models.functions import Lower, Upper
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cartera.core.models import ChoiceLabels, TimeStampedModel
from cartera.core.text import fold


class Stage(models.TextChoices):
    """Where a person stands with the business; set by people, except the move to customer."""

    SUSPECT = "suspect", _("Suspect")
    PROSPECT = "prospect", _("Prospect")
    CUSTOMER = "customer", _("Customer")
    FORMER = "former", _("Former customer")


class Title(models.TextChoices):
    MR = "mr", _("Mr")
    MRS = "mrs", _("Mrs")
    MS = "ms", _("Ms")
    MX = "mx", _("Mx")
    DR = "dr", _("Dr")


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MAIL = "mail", _("Post")
    IN_PERSON = "in_person", _("In person")


class Source(models.TextChoices):
    SOCIAL = "social", _("Social network")
    WEB = "web", _("Web / inbound")
    TELEMARKETING = "telemarketing", _("Telemarketing")
    REFERRAL = "referral", _("Referral")
    EVENT = "event", _("Event")
    PURCHASED_LIST = "purchased_list", _("Purchased list")
    IMPORT = "import", _("Import")
    OTHER = "other", _("Other")


class IncomeRange(models.TextChoices):
    UNDER_15K = "lt15k", _("Under 15,000 €")
    FROM_15K = "15k-25k", _("15,000 – 25,000 €")
    FROM_25K = "25k-40k", _("25,000 – 40,000 €")
    FROM_40K = "40k-60k", _("40,000 – 60,000 €")
    FROM_60K = "60k-100k", _("60,000 – 100,000 €")
    OVER_100K = "gt100k", _("Over 100,000 €")


class CompanySize(models.TextChoices):
    MICRO = "1-9", _("1–9 employees")
    SMALL = "10-49", _("10–49 employees")
    MEDIUM = "50-249", _("50–249 employees")
    LARGE = "250+", _("250 or more employees")


class Company(TimeStampedModel):
    """A business that customers work for (B2B portfolios)."""

    name = models.CharField(_("name"), max_length=200)
    name_key = models.CharField(max_length=200, editable=False, default="")
    tax_id = models.CharField(_("tax id (CIF/NIF)"), max_length=32, blank=True)
    sector = models.CharField(_("sector"), max_length=100, blank=True)
    size = models.CharField(_("size"), max_length=10, choices=CompanySize.choices, blank=True)
    region = models.CharField(_("region"), max_length=100, blank=True)
    website = models.URLField(_("website"), blank=True)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["name_key"], opclasses=["varchar_pattern_ops"], name="company_name_key")
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["tax_id"], condition=~models.Q(tax_id=""), name="company_tax_id_unique"
            )
        ]

    @staticmethod
    def key_for(name: str | None) -> str:
        """The accent- and case-free search key of a company name (what ``name_key`` holds)."""
        return fold(name)[:200]

    def set_search_keys(self) -> None:
        """Recompute the search key from the name; every write path calls this before saving."""
        self.name_key = self.key_for(self.name)

    def __str__(self) -> str:
        return self.name


class Tag(models.Model):
    """A free label put on customers ("VIP", "feria 2026"...)."""

    name = models.CharField(_("name"), max_length=60)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="tag_name_ci_unique")]

    def __str__(self) -> str:
        return self.name


class CustomFieldType(models.TextChoices):
    TEXT = "text", _("Text")
    NUMBER = "number", _("Number")
    DATE = "date", _("Date")
    BOOLEAN = "boolean", _("Yes / no")
    CHOICE = "choice", _("Choice")


class CustomFieldEditors(models.TextChoices):
    """Who may change a custom field's value (on a customer they may change at all)."""

    EVERYONE = "everyone", _("Everyone who may edit the customer")
    MANAGERS = "managers", _("Managers and administrators")
    ADMINS = "admins", _("Administrators only")


class CustomField(models.Model):
    """A typed extra field an admin adds to every customer; values live in ``Customer.custom_fields``.

    Its type is fixed once created, so stored values always read as that type (the segment builder
    compares numbers as numbers)."""

    key = models.SlugField(_("key"), max_length=50, unique=True)
    label = models.CharField(_("label"), max_length=100)
    field_type = models.CharField(_("type"), max_length=10, choices=CustomFieldType.choices)
    choices = models.TextField(_("choices"), blank=True, help_text=_("One per line, for choice fields."))
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    editable_by = models.CharField(
        _("who may edit"),
        max_length=10,
        choices=CustomFieldEditors.choices,
        default=CustomFieldEditors.EVERYONE,
    )

    class Meta:
        verbose_name = _("custom field")
        verbose_name_plural = _("custom fields")
        ordering = ["position", "label"]

    def __str__(self) -> str:
        return self.label

    def choice_list(self) -> list[str]:
        return [c.strip() for c in self.choices.splitlines() if c.strip()]

    def editable_for(self, user: Any) -> bool:
        """Whether ``user`` may change this field's value (their right on the customer is checked apart)."""
        if self.editable_by == CustomFieldEditors.ADMINS:
            return bool(user.is_superuser)
        if self.editable_by == CustomFieldEditors.MANAGERS:
            return bool(user.is_superuser or user.has_perm("accounts.act_on_all_records"))
        return True


class Customer(TimeStampedModel):
    """A person in the portfolio, from suspect to former customer."""

    # Every field that holds personal data, in one place, so export and erasure cannot drift.
    PERSONAL_DATA_FIELDS = (
        "title", "first_name", "last_name", "email", "phone", "job_title", "profession", "birth_date",
        "address", "city", "region", "postal_code", "country", "income_range", "custom_fields", "notes",
    )  # fmt: skip
    scope_owner_fields = ("owner",)

    title = models.CharField(_("title"), max_length=5, choices=Title.choices, blank=True)
    first_name = models.CharField(_("first name"), max_length=100)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    email = models.EmailField(_("email"), max_length=254, null=True, blank=True)
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    stage = models.CharField(_("stage"), max_length=10, choices=Stage.choices, default=Stage.PROSPECT)
    sector = models.CharField(_("sector"), max_length=100, blank=True)
    # No index of its own (nor the owner's): ``customer_company_id`` and ``customer_owner_id`` start with
    # them and serve every lookup; a second index only cost each written customer another entry.
    company = models.ForeignKey(
        Company,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="contacts",
        verbose_name=_("company"),
        db_index=False,
    )
    job_title = models.CharField(_("job title"), max_length=120, blank=True)
    profession = models.CharField(_("profession"), max_length=120, blank=True)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("province / region"), max_length=100, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)
    country = models.CharField(_("country"), max_length=2, default="ES", blank=True)
    preferred_channel = models.CharField(
        _("preferred channel"), max_length=10, choices=Channel.choices, blank=True
    )
    opt_in_email = models.BooleanField(_("accepts email"), default=False)
    opt_in_phone = models.BooleanField(_("accepts calls"), default=False)
    opt_in_sms = models.BooleanField(_("accepts SMS"), default=False)
    opt_in_mail = models.BooleanField(_("accepts post"), default=False)
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, blank=True)
    income_range = models.CharField(_("income range"), max_length=10, choices=IncomeRange.choices, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_customers",
        verbose_name=_("owner"),
        db_index=False,
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers", verbose_name=_("tags"))
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    # Folded (lower-case, accent-free) copies for fast prefix search; kept by the services.
    first_name_key = models.CharField(_("first name search key"), max_length=100, editable=False, default="")
    last_name_key = models.CharField(_("last name search key"), max_length=150, editable=False, default="")

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-id"]
        permissions = [
            ("export_customer", _("Can export customers")),
            ("reassign_customer", _("Can reassign customers to another owner")),
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=models.Q(email__isnull=False), name="customer_email_ci_unique"
            )
        ]
        indexes = [
            # varchar_pattern_ops lets PostgreSQL answer LIKE 'prefix%' from the index; other
            # databases ignore the operator class.
            # INCLUDE (id) lets PostgreSQL collect a search's matching ids from the index alone;
            # SQLite indexes carry the row id anyway (other databases ignore INCLUDE).
            models.Index(
                fields=["last_name_key", "first_name_key"],
                opclasses=["varchar_pattern_ops", "varchar_pattern_ops"],
                include=["id"],
                name="customer_last_name_key",
            ),
            models.Index(
                fields=["first_name_key"],
                opclasses=["varchar_pattern_ops"],
                include=["id"],
                name="customer_first_name_key",
            ),
            # Sorting by name: PostgreSQL cannot read a varchar_pattern_ops index in collation order.
            models.Index(fields=["last_name_key", "first_name_key", "id"], name="customer_name_order"),
            models.Index(
                fields=["email"],
                opclasses=["varchar_pattern_ops"],
                include=["id"],
                name="customer_email_prefix",
            ),
            models.Index(
                fields=["phone"],
                opclasses=["varchar_pattern_ops"],
                include=["id"],
                name="customer_phone_prefix",
            ),
            models.Index(fields=["stage", "id"], name="customer_stage_id"),
            models.Index(fields=["owner", "id"], name="customer_owner_id"),
            models.Index(fields=["source", "id"], name="customer_source_id"),
            models.Index(fields=["sector", "id"], name="customer_sector_id"),
            models.Index(fields=["company", "id"], name="customer_company_id"),
            # Segments and personas filter by region ("is Madrid", case-insensitive): the rule
            # compares UPPER() of both sides, which this index answers on SQLite and PostgreSQL.
            models.Index(Upper("region"), F("id"), name="customer_region_upper"),
        ]

    @staticmethod
    def name_keys(first_name: str | None, last_name: str | None) -> tuple[str, str]:
        """The accent- and case-free search keys of a first and last name (``first_name_key``,
        ``last_name_key``), cut to their columns; the bulk writers use it on plain values."""
        return fold(first_name)[:100], fold(last_name)[:150]

    def set_search_keys(self) -> None:
        """Recompute the search keys from the name; every write path calls this before saving."""
        self.first_name_key, self.last_name_key = self.name_keys(self.first_name, self.last_name)

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def age(self, today: datetime.date | None = None) -> int | None:
        """Age in whole years, or ``None`` without a birth date."""
        if self.birth_date is None:
            return None
        today = today or timezone.localdate()
        before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
        return today.year - self.birth_date.year - int(before_birthday)


class StageVia(models.TextChoices):
    """How a stage change came about, so the history says whether a person or a rule made it."""

    PAGE = "page", _("Customer page")
    FORM = "form", _("Edit form")
    BULK = "bulk", _("Bulk change")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    FIRST_ORDER = "first_order", _("First order")
    MERGE = "merge", _("Merge")
    LEAD = "lead", _("Lead capture")
    PIPELINE = "pipeline", _("Opportunity")


class StageChange(ChoiceLabels):
    """One move of a customer's relationship stage: from, to, who, when, why and through what.

    Written only by ``customers.services`` (:func:`~cartera.customers.services.customer_stage_change`
    and the bulk and import paths next to it), so no path can change a stage without leaving a line.
    """

    scope_owner_fields = ("customer__owner",)

    # Indexed by ``stagechange_customer_when``, which starts with the customer.
    customer = models.ForeignKey(
        Customer,
        on_delete=models.CASCADE,
        related_name="stage_changes",
        verbose_name=_("customer"),
        db_index=False,
    )
    from_stage = models.CharField(_("from"), max_length=10, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("to"), max_length=10, choices=Stage.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )
    changed_at = models.DateTimeField(_("when"), default=timezone.now)
    reason = models.CharField(_("why"), max_length=300, blank=True)
    via = models.CharField(_("through"), max_length=12, choices=StageVia.choices, default=StageVia.FORM)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["customer", "-changed_at"], name="stagechange_customer_when")]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_stage or '-'} → {self.to_stage}"


class DuplicateCandidate(models.Model):
    """A pair of customers the duplicate finder thinks may be one person, with its score and reasons.

    Written in one pass by :func:`~cartera.customers.services.duplicate_candidates_refresh` (in the
    worker on a big portfolio) and read by the duplicates page, so the page never compares a million
    customers while someone waits. ``first`` is the record the merge keeps by default (the fuller,
    then the older one); a merge deletes the other, and its candidate rows with it.
    """

    scope_owner_fields = ("first__owner",)

    first = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))
    # Codes of what agrees and what differs ("phone", "name", "city", "email_differs"...): the page
    # words them in the reader's language.
    reasons = models.JSONField(_("why"), default=list)
    found_at = models.DateTimeField(_("found"), default=timezone.now)

    class Meta:
        verbose_name = _("possible duplicate")
        verbose_name_plural = _("possible duplicates")
        ordering = ["-score", "id"]
        constraints = [models.UniqueConstraint(fields=["first", "second"], name="duplicate_pair_once")]
        indexes = [models.Index(fields=["-score", "id"], name="duplicate_score")]

    def __str__(self) -> str:
        return f"{self.first_id} ~ {self.second_id} ({self.score})"


class CustomerMerge(models.Model):
    """One merge of two customers, with what it needs to be undone.

    ``snapshot`` holds the removed customer and the rows that went with it (serialised by Django's
    serialiser), the ids of every row moved to the kept customer, and the kept customer's fields before
    and after, so an undo restores both records and refuses when the kept one was changed since in a
    field the undo would put back.
    """

    scope_owner_fields = ("keep__owner",)

    keep = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="merges", verbose_name=_("kept")
    )
    removed_id = models.PositiveBigIntegerField(_("removed customer id"))
    removed_label = models.CharField(_("removed customer"), max_length=300)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+", verbose_name=_("by")
    )
    merged_at = models.DateTimeField(_("merged"), default=timezone.now)
    snapshot = models.JSONField(default=dict)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("merge")
        verbose_name_plural = _("merges")
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.removed_label} → {self.keep_id}"
