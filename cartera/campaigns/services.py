"""Writes of campaigns: create and edit a draft, test-send a message to oneself, freeze the audience
and send, pause and resume."""

from __future__ import annotations

import datetime as dt
import secrets
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.activity.models import Direction, Interaction, InteractionKind
from cartera.activity.services import interaction_record_system, interactions_record_many, task_create
from cartera.campaigns.models import (
    BASE_LANGUAGE,
    Campaign,
    CampaignMessage,
    CampaignStatus,
    Channel,
    Click,
    Group,
    PromoMode,
    Recipient,
    Variant,
)
from cartera.campaigns.personalisation import (
    ValuesMaker,
    compile_template,
    facts_for,
    problems,
    render,
    values_for,
)
from cartera.campaigns.selectors import campaign_messages, campaign_plan, languages_of, recipient_for_reply
from cartera.campaigns.tracking import click_read, track_links
from cartera.core import bulk
from cartera.core.scoping import can, restrict
from cartera.customers.models import Customer
from cartera.messaging.models import OutboxMessage
from cartera.messaging.services import (
    OutboxDraft,
    message_queue,
    messages_queue_many,
    outbox_hold,
    outbox_release,
)
from cartera.sales.models import PromotionCode
from cartera.segments.models import Segment

CAMPAIGN_FIELDS = (
    "name",
    "goal",
    "control_percent",
    "frequency_cap_days",
    "window_days",
    "promo_mode",
    "promo_code",
    "promo_discount",
    "promo_valid_until",
    "promo_max_uses",
    "track_clicks",
)
WRITE_CHUNK = 5000
CODE_ALPHABET = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"
assert len(CODE_ALPHABET) == 32  # noqa: S101 - _unique_codes relies on it


def _require(actor: User, campaign: Campaign, action: str = "change") -> None:
    if not restrict(Campaign.objects.filter(pk=campaign.pk), actor, action).exists():  # type: ignore[arg-type]
        raise PermissionDenied(_("Only managers, or the campaign's author, may change or send it."))


def _require_draft(campaign: Campaign) -> None:
    if campaign.status != CampaignStatus.DRAFT:
        raise ValidationError(_("This campaign has been sent: its audience and messages are frozen."))


def _apply(campaign: Campaign, fields: Mapping[str, Any]) -> None:
    unknown = set(fields) - set(CAMPAIGN_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(campaign, name, value.strip() if isinstance(value, str) else value)
    campaign.promo_code = campaign.promo_code.upper().replace(" ", "")
    if not campaign.name:
        raise ValidationError({"name": _("Give the campaign a name.")})
    if campaign.promo_mode != PromoMode.NONE and not campaign.promo_code:
        raise ValidationError({"promo_code": _("Write the code (or the start of each unique code).")})
    campaign.full_clean(exclude=["created_by", "sent_by", "seed"])


def _default_variant(message: CampaignMessage, campaign: Campaign) -> Variant:
    promo = (
        "\n\n{{ promo_discount }} con el código {{ promo_code }}."
        if campaign.promo_mode != PromoMode.NONE
        else ""
    )
    promo_en = (
        "\n\n{{ promo_discount }} off with the code {{ promo_code }}."
        if campaign.promo_mode != PromoMode.NONE
        else ""
    )
    return Variant.objects.create(
        message=message,
        label="A",
        share=100,
        subject="{{ first_name }}, te echamos de menos",
        body=(
            "Hola {{ first_name }}:\n\nHace tiempo que no sabemos de ti; tu última compra fue el "
            "{{ last_purchase_date }}." + promo + "\n\n{{ owner_signature }}"
        ),
        subject_en="{{ first_name }}, we miss you",
        body_en=(
            "Hello {{ first_name }},\n\nWe have not heard from you for a while; your last purchase was on "
            "{{ last_purchase_date }}." + promo_en + "\n\n{{ owner_signature }}"
        ),
    )


@transaction.atomic
def campaign_create(*, actor: User, fields: Mapping[str, Any], segments: Sequence[Segment]) -> Campaign:
    """A draft campaign with one e-mail message (variant A, a starting text) per segment, in order."""
    if not can(actor, Campaign, "add"):
        raise PermissionDenied(_("Only managers may create campaigns."))
    if not segments:
        raise ValidationError({"segments": _("Choose at least one segment.")})
    campaign = Campaign(created_by=actor, seed=secrets.randbelow(2**31))
    _apply(campaign, fields)
    campaign.save()
    for position, segment in enumerate(segments):
        message = CampaignMessage.objects.create(campaign=campaign, segment=segment, position=position)
        _default_variant(message, campaign)
    return campaign


@transaction.atomic
def campaign_update(*, actor: User, campaign: Campaign, fields: Mapping[str, Any]) -> Campaign:
    """Change a draft's settings."""
    _require(actor, campaign)
    _require_draft(campaign)
    _apply(campaign, fields)
    campaign.save()
    return campaign


def text_problems(*, texts: Mapping[str, str]) -> dict[str, list[str]]:
    """The mistakes of each named text (subject, body...), by name; empty when all can be sent."""
    found = {name: [str(p) for p in problems(text)] for name, text in texts.items()}
    return {name: items for name, items in found.items() if items}


@transaction.atomic
def message_update(
    *,
    actor: User,
    message: CampaignMessage,
    channel: str,
    talking_points: str,
    variants: Sequence[Mapping[str, Any]],
) -> CampaignMessage:
    """Set what a segment gets: an e-mail with one or two variants (``label``, ``share``, ``subject``,
    ``body``, ``subject_en``, ``body_en``; shares add up to 100), or a call with talking points.
    Every text is checked: an unknown variable or a broken ``{{ }}`` is refused with its line."""
    campaign = message.campaign
    _require(actor, campaign)
    _require_draft(campaign)
    if channel not in Channel.values:
        raise ValidationError({"channel": _("Choose e-mail or call.")})
    errors: dict[str, list[str]] = {}
    if channel == Channel.EMAIL:
        if not variants:
            raise ValidationError({"variants": _("Write the e-mail.")})
        if sum(int(v.get("share") or 0) for v in variants) != 100:
            errors["share"] = [_("The shares of the variants must add up to 100 %.")]
        for v in variants:
            label = v["label"]
            if not str(v.get("subject", "")).strip() or not str(v.get("body", "")).strip():
                errors[f"{label}-subject"] = [
                    _("Variant %(label)s needs a subject and a text.") % {"label": label}
                ]
            if bool(str(v.get("subject_en", "")).strip()) != bool(str(v.get("body_en", "")).strip()):
                errors[f"{label}-english"] = [
                    _(
                        "Variant %(label)s: write both the subject and the text in English, or neither "
                        "(English readers get the whole e-mail in Spanish then)."
                    )
                    % {"label": label}
                ]
            for name in ("subject", "body", "subject_en", "body_en"):
                found = text_problems(texts={name: str(v.get(name, ""))})
                if found:
                    errors[f"{label}-{name}"] = found[name]
    else:
        found = text_problems(texts={"talking_points": talking_points})
        errors.update(found)
    if errors:
        raise ValidationError(errors)
    message.channel = channel
    message.talking_points = talking_points.strip()
    message.save()
    if channel == Channel.EMAIL:
        message.variants.exclude(label__in=[v["label"] for v in variants]).delete()
        for v in variants:
            Variant.objects.update_or_create(
                message=message,
                label=v["label"],
                defaults={
                    "share": int(v["share"]),
                    "subject": str(v["subject"]).strip(),
                    "body": str(v["body"]).strip(),
                    "subject_en": str(v.get("subject_en", "")).strip(),
                    "body_en": str(v.get("body_en", "")).strip(),
                },
            )
    return message


def preview(
    *, campaign: Campaign, variant: Variant, customer: Customer, language: str | None = None
) -> dict[str, str]:
    """The subject and text ``customer`` would get from ``variant`` (with a sample code when the
    campaign gives unique codes)."""
    lang = variant.language_for(language or languages_of([customer.pk])[customer.pk])
    fact = facts_for([customer.pk])[customer.pk]
    code = (
        campaign.promo_code
        if campaign.promo_mode == PromoMode.SHARED
        else (f"{campaign.promo_code}-XXXXXX" if campaign.promo_mode == PromoMode.UNIQUE else "")
    )
    values = values_for(
        fact,
        language=lang,
        promo_code=code,
        promo_discount=campaign.promo_discount if code else None,
        promo_valid_until=campaign.promo_valid_until if code else None,
    )
    subject, body = variant.texts()[lang]
    return {"subject": render(subject, values), "text": render(body, values), "language": lang}


def campaign_test_send(
    *, actor: User, campaign: Campaign, variant: Variant, customer: Customer
) -> OutboxMessage:
    """Send ``variant`` as ``customer`` would get it to the actor's own address (marked as a test)."""
    if not actor.email:
        raise ValidationError(_("Your user has no e-mail address to send the test to."))
    shown = preview(campaign=campaign, variant=variant, customer=customer)
    return message_queue(
        to_address=actor.email,
        purpose="campaign_test",
        subject=f"[{_('TEST')}] {shown['subject']}",
        text=shown["text"],
        language=shown["language"],
        sender_user=actor,
        reference=f"campaigns.campaign:{campaign.pk}",
    )


def _check_ready(campaign: Campaign, messages: list[CampaignMessage]) -> None:
    if not messages:
        raise ValidationError(_("The campaign has no message."))
    for message in messages:
        if message.channel == Channel.EMAIL:
            variants = list(message.variants.all())
            if not variants:
                raise ValidationError(
                    _("Write the e-mail for “%(segment)s”.") % {"segment": message.segment.name}
                )
            for v in variants:
                for text in (v.subject, v.body, v.subject_en, v.body_en):
                    if problems(text):
                        raise ValidationError(
                            _("The e-mail for “%(segment)s” has mistakes: fix them first.")
                            % {"segment": message.segment.name}
                        )
    if campaign.promo_mode == PromoMode.SHARED:
        taken = PromotionCode.objects.filter(code=campaign.promo_code).exclude(
            source=f"campaigns.campaign:{campaign.pk}"
        )
        if taken.exists():
            raise ValidationError(
                {"promo_code": _("The code “%(code)s” already exists.") % {"code": campaign.promo_code}}
            )


def _unique_codes(prefix: str, count: int) -> list[str]:
    codes: set[str] = set()
    # The codes already made with this start (one query, however many are wanted; usually none).
    taken = set(PromotionCode.objects.filter(code__startswith=f"{prefix}-").values_list("code", flat=True))
    while len(codes) < count:
        # 32 letters and digits: the low five bits of a random byte pick one evenly (as
        # ``secrets.choice`` would, one call per character).
        wanted = count - len(codes)
        noise = secrets.token_bytes(6 * wanted)
        batch = {
            f"{prefix}-{''.join(CODE_ALPHABET[b & 31] for b in noise[6 * i : 6 * i + 6])}"
            for i in range(wanted)
        }
        codes |= batch - taken

    return sorted(codes)


@transaction.atomic
def campaign_send(*, actor: User, campaign: Campaign) -> Campaign:
    """Freeze the audience and send: who receives which message and variant, who is excluded and why
    and the control group are written as ``Recipient`` rows; promotion codes are created; each e-mail
    is personalised in the recipient's language and queued in the outbox (the worker sends it); each
    call becomes a task for the customer's owner; the timeline of each recipient says what they got."""
    _require(actor, campaign)
    locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
    _require_draft(locked)
    messages = campaign_messages(campaign=locked)
    _check_ready(locked, messages)
    plan = campaign_plan(campaign=locked, user=actor)
    if plan.treated == 0:
        raise ValidationError(_("Nobody would receive this campaign: look at the exclusions below."))
    now = timezone.now()
    recipients = [
        Frozen(
            customer_id=row.customer_id,
            message_id=row.message_id,
            variant_id=row.variant_id if row.group == Group.TREATED else None,
            group=row.group,
            reason=row.reason if row.group == Group.EXCLUDED else "",
            stratum=row.stratum,
        )
        for row in plan.rows
    ]
    del plan  # its 100,000 rows (with their addresses) are not needed again: memory back before the writes
    treated = [r for r in recipients if r.group == Group.TREATED]
    if locked.promo_mode == PromoMode.UNIQUE:
        for recipient, code in zip(treated, _unique_codes(locked.promo_code, len(treated)), strict=True):
            recipient.promo_code = code
    elif locked.promo_mode == PromoMode.SHARED:
        for recipient in treated:
            recipient.promo_code = locked.promo_code
    _write_recipients(locked, recipients)
    if locked.promo_mode != PromoMode.NONE:
        _create_codes(locked, treated)
    by_message = {m.pk: m for m in messages}
    variants = {v.pk: v for m in messages for v in m.variants.all()}
    email_rows = [r for r in treated if by_message[r.message_id].channel == Channel.EMAIL]
    call_rows = [r for r in treated if by_message[r.message_id].channel == Channel.CALL]
    _queue_emails(locked, actor, email_rows, variants)
    _create_calls(locked, actor, call_rows, by_message)
    locked.status = CampaignStatus.SENDING
    locked.sent_at = now
    locked.sent_by = actor
    locked.save(update_fields=["status", "sent_at", "sent_by", "updated_at"])
    return locked


@dataclass(slots=True)
class Frozen:
    """One recipient as the send writes it (a ``Recipient`` row without the cost of a model instance
    for each of 100,000); ``pk`` once written."""

    customer_id: int
    message_id: int
    variant_id: int | None
    group: str
    reason: str
    stratum: str
    promo_code: str = ""
    pk: int = 0

    @property
    def reference(self) -> str:
        """As ``Recipient.reference``."""
        return f"campaigns.recipient:{self.pk}"


RECIPIENT_COLUMNS = (
    "campaign_id", "customer_id", "message_id", "variant_id", "group", "reason", "stratum", "promo_code",
    "task_id", "replied_at",
)  # fmt: skip
CODE_COLUMNS = (
    "code", "discount_percent", "valid_from", "valid_until", "max_uses", "customer_id", "source", "created_at",
)  # fmt: skip


def _write_recipients(campaign: Campaign, recipients: list[Frozen]) -> None:
    """Write the frozen audience in one pass with the bulk toolkit (``COPY`` on PostgreSQL, one
    prepared ``INSERT`` elsewhere; ``CARTERA_BULK_PLAIN``: row by row) and give each its id, read
    back in one query (a customer is once in a campaign)."""
    with connection.cursor() as cursor:
        for start in range(0, len(recipients), WRITE_CHUNK):
            # The rows of one chunk at a time: never a second copy of the whole audience.
            rows = [
                (
                    campaign.pk, r.customer_id, r.message_id, r.variant_id, r.group, r.reason, r.stratum,
                    r.promo_code, None, None,
                )
                for r in recipients[start : start + WRITE_CHUNK]
            ]  # fmt: skip
            bulk.write_rows(cursor, Recipient._meta.db_table, RECIPIENT_COLUMNS, rows)
    ids = dict(Recipient.objects.filter(campaign=campaign).values_list("customer_id", "pk"))
    for r in recipients:
        r.pk = ids[r.customer_id]


def _create_codes(campaign: Campaign, treated: list[Frozen]) -> None:
    source = f"campaigns.campaign:{campaign.pk}"
    common = {
        "discount_percent": campaign.promo_discount,
        "valid_from": timezone.localdate(),
        "valid_until": campaign.promo_valid_until,
        "max_uses": campaign.promo_max_uses,
        "source": source,
    }
    if campaign.promo_mode == PromoMode.SHARED:
        PromotionCode.objects.get_or_create(code=campaign.promo_code, defaults=common)
        return
    ops = connection.ops
    discount = ops.adapt_decimalfield_value(campaign.promo_discount, 5, 2)
    valid_from = ops.adapt_datefield_value(timezone.localdate())
    valid_until = ops.adapt_datefield_value(campaign.promo_valid_until)
    created = ops.adapt_datetimefield_value(timezone.now())
    rows = [
        (
            r.promo_code,
            discount,
            valid_from,
            valid_until,
            campaign.promo_max_uses,
            r.customer_id,
            source,
            created,
        )
        for r in treated
    ]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), WRITE_CHUNK):
            bulk.write_rows(
                cursor, PromotionCode._meta.db_table, CODE_COLUMNS, rows[start : start + WRITE_CHUNK]
            )


#: Recipients whose facts are read, e-mails rendered and timeline lines written at a time: memory
#: stays that of a chunk whatever the audience (100,000 rendered e-mails and their facts held at once
#: took about 280 MiB).
EMAIL_CHUNK = 5000


def _queue_emails(campaign: Campaign, actor: User, rows: list[Frozen], variants: dict[int, Variant]) -> None:
    if not rows:
        return
    make_values = ValuesMaker()
    # Each variant's texts split once into fixed pieces and variables, per language it is written in.
    compiled = {
        pk: {
            lang: (compile_template(subject), compile_template(body))
            for lang, (subject, body) in v.texts().items()
        }
        for pk, v in variants.items()
    }
    with translation.override(None):
        note = _("Campaign “%(name)s”: e-mail") % {"name": campaign.name}
    written = sorted(rows, key=lambda r: r.pk)

    def drafts() -> Any:
        for start in range(0, len(written), EMAIL_CHUNK):
            chunk = written[start : start + EMAIL_CHUNK]
            # The chunk's recipients, read by the database as a subquery (a range of their ids), not
            # sent back as a list of 5,000 ids.
            ids = Recipient.objects.filter(
                campaign=campaign, group=Group.TREATED, message__channel=Channel.EMAIL,
                pk__gte=chunk[0].pk, pk__lte=chunk[-1].pk,
            ).values_list("customer_id", flat=True)  # fmt: skip
            languages = languages_of(ids)
            facts = facts_for(ids)
            emails = _emails(ids)
            timeline: list[tuple[int, str]] = []
            for r in chunk:
                texts = compiled[r.variant_id or 0]
                wanted = languages[r.customer_id]
                language = wanted if wanted in texts else BASE_LANGUAGE  # as Variant.language_for
                values = make_values(
                    facts[r.customer_id],
                    language=language,
                    promo_code=r.promo_code,
                    promo_discount=campaign.promo_discount if r.promo_code else None,
                    promo_valid_until=campaign.promo_valid_until if r.promo_code else None,
                )
                subject, body = texts[language]
                rendered_subject = subject(values)
                text = body(values)
                if campaign.track_clicks:
                    text = track_links(text, r.pk)
                timeline.append((r.customer_id, rendered_subject))
                yield OutboxDraft(
                    to_address=emails[r.customer_id] or "",
                    language=language,
                    subject=rendered_subject,
                    text=text,
                    customer_id=r.customer_id,
                    reference=r.reference,
                )
            # Each recipient's timeline says what they got, a chunk at a time, in the same transaction.
            interactions_record_many(
                rows=[
                    {
                        "customer_id": customer_id,
                        "kind": InteractionKind.EMAIL,
                        "direction": Direction.OUTBOUND,
                        "subject": f"{note}: {subject}",
                        "body": f"campaigns.campaign:{campaign.pk}",
                    }
                    for customer_id, subject in timeline
                ],
                author=actor,
            )

    messages_queue_many(
        drafts=drafts(),
        purpose="campaign",
        batch=campaign.batch,
        consent_purpose="marketing",
        sender_user=actor,
    )


def _emails(ids: QuerySet[Any]) -> dict[int, str | None]:
    """The addresses of the customers whose ids ``ids`` selects: one query with it as a subquery
    (the plain twin, ``CARTERA_BULK_PLAIN``: the ids read and sent 5,000 at a time)."""
    if bulk.fast_paths():
        return dict(Customer.objects.filter(pk__in=ids).values_list("pk", "email"))
    listed = list(ids)
    found: dict[int, str | None] = {}
    for start in range(0, len(listed), 5000):
        found.update(Customer.objects.filter(pk__in=listed[start : start + 5000]).values_list("pk", "email"))
    return found


def _create_calls(
    campaign: Campaign, actor: User, rows: list[Frozen], by_message: dict[int, CampaignMessage]
) -> None:
    """A task for each customer's owner: call them, with the talking points and the promotion."""
    if not rows:
        return
    customers = Customer.objects.in_bulk([r.customer_id for r in rows])
    due = timezone.now() + dt.timedelta(days=2)
    for r in rows:
        customer = customers[r.customer_id]
        notes = by_message[r.message_id].talking_points
        if r.promo_code:
            notes += "\n\n" + _("Promotion code: %(code)s (%(discount)s %%)") % {
                "code": r.promo_code,
                "discount": campaign.promo_discount.normalize(),
            }
        task = task_create(
            actor=actor,
            fields={
                "title": (
                    _("Call %(name)s — campaign “%(campaign)s”")
                    % {"name": customer.full_name, "campaign": campaign.name}
                )[:200],
                "customer": customer,
                "assignee": customer.owner or actor,
                "due_at": due,
                "notes": notes,
            },
        )
        Recipient.objects.filter(pk=r.pk).update(task_id=task.pk)


def campaign_pause(*, actor: User, campaign: Campaign) -> int:
    """Stop sending: the e-mails not yet sent wait. How many were held."""
    return _campaign_switch(
        actor, campaign, CampaignStatus.SENDING, CampaignStatus.PAUSED, outbox_hold,
        _("Only a campaign being sent can be paused."),
    )  # fmt: skip


def campaign_resume(*, actor: User, campaign: Campaign) -> int:
    """Carry on sending a paused campaign. How many e-mails were released."""
    return _campaign_switch(
        actor, campaign, CampaignStatus.PAUSED, CampaignStatus.SENDING, outbox_release,
        _("Only a paused campaign can be resumed."),
    )  # fmt: skip


@transaction.atomic
def _campaign_switch(
    actor: User, campaign: Campaign, current: str, new: str, outbox_step: Callable[..., int], refusal: str
) -> int:
    """Move ``campaign`` from ``current`` to ``new`` and hold or release its e-mails, in one step: the
    status changes only if it still is ``current`` (two clicks, two people), else ``refusal``."""
    _require(actor, campaign)
    if not Campaign.objects.filter(pk=campaign.pk, status=current).update(status=new):
        raise ValidationError(refusal)
    campaign.status = new
    return outbox_step(batch=campaign.batch)


def campaign_delete(*, actor: User, campaign: Campaign) -> None:
    """Delete a draft (a sent campaign stays: its results are the record)."""
    _require(actor, campaign, "delete")
    _require_draft(campaign)
    campaign.delete()


def discount_text(value: Decimal) -> str:
    return f"{value.normalize()} %"


# --- responses: clicks and replies ----------------------------------------------------------------


def click_record(*, token: str) -> str | None:
    """A recipient opened a tracked link: count it (one row per recipient and link; the first click
    goes on the customer's timeline) and return the original address to send them to; ``None`` when
    the token is not one of ours. Anyone holding the e-mail may click: no user, no rights."""
    link = click_read(token)
    if link is None:
        return None
    recipient = Recipient.objects.select_related("campaign", "customer").filter(pk=link.recipient_id).first()
    if recipient is None:
        return None
    now = timezone.now()
    with transaction.atomic():
        updated = Click.objects.filter(recipient=recipient, link=link.link).update(
            count=F("count") + 1, last_at=now
        )
        if not updated:
            try:
                with transaction.atomic():
                    Click.objects.create(
                        recipient=recipient, link=link.link, url=link.url, first_at=now, last_at=now
                    )
            except IntegrityError:  # a second click raced the first: count it on the row it made
                Click.objects.filter(recipient=recipient, link=link.link).update(
                    count=F("count") + 1, last_at=now
                )
            else:
                with translation.override(None):
                    subject = _("Campaign “%(name)s”: opened the link %(url)s") % {
                        "name": recipient.campaign.name,
                        "url": link.url,
                    }
                interaction_record_system(
                    customer=recipient.customer,
                    kind=InteractionKind.EMAIL,
                    direction=Direction.INBOUND,
                    subject=subject[:200],
                    body=f"campaigns.campaign:{recipient.campaign_id}",
                    occurred_at=now,
                )
    return link.url


@transaction.atomic
def reply_record(
    *, actor: User | None, recipient: Recipient, text: str, subject: str = "", when: dt.datetime | None = None
) -> Interaction:
    """Log a reply to a campaign e-mail on the customer's timeline (an inbound e-mail with its text)
    and mark the recipient as having replied. ``actor`` must be allowed to change the customer; ``None``
    is the mail importer (``cartera campaign replies``), run by an operator."""
    if actor is not None and not can_change_customer(actor, recipient.customer_id):
        raise PermissionDenied(_("You cannot log replies of a customer you do not own."))
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Paste the text of the reply.")})
    when = when or timezone.now()
    campaign = recipient.campaign
    with translation.override(None):
        title = _("Reply to the campaign “%(name)s”") % {"name": campaign.name}
    interaction = interaction_record_system(
        customer=recipient.customer,
        kind=InteractionKind.EMAIL,
        direction=Direction.INBOUND,
        subject=(f"{title}: {subject}" if subject else title)[:200],
        body=text,
        occurred_at=when,
        author=actor,
    )
    Recipient.objects.filter(pk=recipient.pk, replied_at__isnull=True).update(replied_at=when)
    return interaction


def can_change_customer(actor: User, customer_id: int) -> bool:
    """Whether ``actor`` may write on the customer's record (log a reply)."""
    return restrict(Customer.objects.filter(pk=customer_id), actor, "change").exists()


def reply_from_mail(*, mail: EmailMessage) -> Interaction | None:
    """Log an incoming e-mail (read from an .eml file or an mbox) as a reply to the campaign e-mail
    it answers (:func:`cartera.campaigns.selectors.recipient_for_reply`); ``None`` when it answers
    none. What the mailbox forwarding of replies calls; no user: run by an operator."""
    headers = " ".join(str(mail.get(name, "")) for name in ("In-Reply-To", "References"))
    sender = parseaddr(str(mail.get("From", "")))[1]
    recipient = recipient_for_reply(in_reply_to=headers, sender=sender)
    if recipient is None:
        return None
    part = mail.get_body(preferencelist=("plain",))
    text = str(part.get_content()) if part is not None else ""
    try:
        when = parsedate_to_datetime(str(mail["Date"])) if mail["Date"] else None
    except (TypeError, ValueError):
        when = None
    return reply_record(
        actor=None,
        recipient=recipient,
        text=text or _("(no text)"),
        subject=str(mail.get("Subject", ""))[:120],
        when=when if when is not None and when.tzinfo is not None else None,
    )
