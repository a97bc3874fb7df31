"""The set-based reads of a campaign's review and send give what their plain twins
(``CARTERA_BULK_PLAIN``: the ids read into Python and sent back in lists) give: the plan row by row,
the refusals, the languages, facts and addresses, and the very e-mails queued."""

from __future__ import annotations

import pytest
from django.db import transaction
from django.test import override_settings

from cartera.activity.models import Interaction
from cartera.campaigns import selectors, services
from cartera.campaigns.models import Group, Recipient
from cartera.campaigns.personalisation import facts_for
from cartera.customers.models import Customer
from cartera.messaging.models import OutboxMessage
from cartera.messaging.services import recipient_refusals
from cartera.privacy.selectors import email_suppressions
from cartera.privacy.services import consent_record
from tests.campaigns.test_campaign_flow import SETTINGS, write_messages

pytestmark = pytest.mark.django_db


def _plan_rows(plan):
    return [
        (r.customer_id, r.message_id, r.email, r.lifecycle, r.group, r.reason, r.variant_id)
        for r in plan.rows
    ]


def _both(read):
    with override_settings(CARTERA_BULK_PLAIN=True):
        plain = read()
    with override_settings(CARTERA_BULK_PLAIN=False):
        fast = read()
    return fast, plain


def test_the_review_and_the_send_read_the_same_with_and_without_the_fast_paths(
    portfolio, manager, monkeypatch
):
    # One more way to be refused: withdrew marketing through an unsubscribe link.
    gone = portfolio["customers"][5]
    consent_record(
        actor=None, customer=gone, channel="email", purpose="marketing", granted=False,
        source="unsubscribe", wording="", version="page", reference="x",
    )  # fmt: skip
    campaign = services.campaign_create(
        actor=manager,
        fields={**SETTINGS, "promo_mode": "none", "frequency_cap_days": 0},
        segments=[portfolio["at_risk"], portfolio["inactive"]],
    )
    write_messages(manager, campaign)
    fast, plain = _both(lambda: selectors.campaign_plan(campaign=campaign, user=manager))
    assert _plan_rows(fast) == _plan_rows(plain)
    assert [(m.audience, m.control, m.treated_by_variant, m.excluded) for m in fast.by_message] == [
        (m.audience, m.control, m.treated_by_variant, m.excluded) for m in plain.by_message
    ]
    reasons = {r.customer_id: r.reason for r in fast.rows if r.group == Group.EXCLUDED}
    assert reasons[gone.pk] == "unsubscribed" and reasons[portfolio["no_consent"].pk] == "no_consent"
    assert reasons[portfolio["bounced"].pk] == "bounced" and reasons[portfolio["no_email"].pk] == "no_email"

    # The refusals with the audience as a subquery, and the suppression list read whole.
    keys = [(c.pk, c.email or "") for c in Customer.objects.all()]
    ids = Customer.objects.values_list("pk", flat=True)
    fast_refused, plain_refused = _both(
        lambda: recipient_refusals(recipients=keys, consent_purpose="marketing", customers=ids)
    )
    assert fast_refused == plain_refused == recipient_refusals(recipients=keys, consent_purpose="marketing")
    emails = [c.email for c in Customer.objects.exclude(email=None)]
    fast_sup, plain_sup = _both(lambda: email_suppressions(emails=emails, whole_list_from=1))
    assert fast_sup == plain_sup == {"baja@example.es": "unsubscribe", "rebote@example.es": "bounce"}

    # Languages, facts and addresses of a queryset of ids, as of the list of them.
    fast_lang, plain_lang = _both(lambda: selectors.languages_of(ids))
    assert fast_lang == plain_lang == selectors.languages_of(list(ids))
    assert sorted(v for v in fast_lang.values()).count("en") == 20
    fast_facts, plain_facts = _both(lambda: facts_for(ids))
    assert fast_facts == plain_facts == facts_for(list(ids))

    # The send, each way, from the same draft (the first undone): the same e-mails queued.
    def sent():
        return (
            sorted(
                OutboxMessage.objects.filter(batch=campaign.batch).values_list(
                    "customer_id", "to_address", "language", "subject", "text"
                )
            ),
            sorted(
                Recipient.objects.filter(campaign=campaign).values_list(
                    "customer_id", "group", "reason", "variant_id"
                )
            ),
            sorted(
                Interaction.objects.filter(body=f"campaigns.campaign:{campaign.pk}").values_list(
                    "customer_id", "subject"
                )
            ),
        )

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        with override_settings(CARTERA_BULK_PLAIN=True):
            services.campaign_send(actor=manager, campaign=campaign)
        plain_sent = sent()
        raise Undo
    assert not Recipient.objects.filter(campaign=campaign).exists()
    # Rendered a few recipients at a time (the send works in chunks of EMAIL_CHUNK so that its memory
    # stays that of a chunk): the same e-mails and the same timeline lines.
    with pytest.raises(Undo), transaction.atomic():
        monkeypatch.setattr(services, "EMAIL_CHUNK", 7)
        services.campaign_send(actor=manager, campaign=campaign)
        assert sent() == plain_sent
        monkeypatch.undo()
        raise Undo
    with override_settings(CARTERA_BULK_PLAIN=False):
        services.campaign_send(actor=manager, campaign=campaign)
    assert len(plain_sent[0]) == len(plain_sent[2]) == 179  # 180 less the one who left
    assert sent() == plain_sent
