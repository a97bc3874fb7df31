"""Responses to a campaign: tracked clicks (signed links that redirect only to the e-mail's own link)
and replies, logged by a user from the results page or read from forwarded mail by the command line.
Checked on the e-mails a real SMTP server received."""

from __future__ import annotations

import io
import mailbox
import re
from email.message import EmailMessage
from urllib.parse import urlsplit

import pytest
from django.core import signing
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation

from cartera.activity.models import Interaction
from cartera.campaigns import selectors, services
from cartera.campaigns.models import Click, Group, Recipient
from cartera.campaigns.tracking import CLICK_SALT, TrackedLink, click_token
from cartera.messaging.models import OutboxMessage
from cartera.messaging.services import deliver_pending
from tests.campaigns.conftest import checked_results

pytestmark = pytest.mark.django_db

BODY = (
    "Hola {{ first_name }}: mira la colección en https://tienda.example/otono?ref=correo.\n"
    "Y las ofertas (https://tienda.example/ofertas)."
)
SHOP = "https://tienda.example/otono?ref=correo"
OFFERS = "https://tienda.example/ofertas"


def _send(manager, portfolio, *, track: bool):
    campaign = services.campaign_create(
        actor=manager,
        fields={"name": "Otoño", "control_percent": 10, "frequency_cap_days": 0, "track_clicks": track},
        segments=[portfolio["at_risk"]],
    )
    (message,) = selectors.campaign_messages(campaign=campaign)
    services.message_update(
        actor=manager,
        message=message,
        channel="email",
        talking_points="",
        variants=[{"label": "A", "share": 100, "subject": "Otoño", "body": BODY}],
    )
    campaign = services.campaign_send(actor=manager, campaign=campaign)
    deliver_pending()
    treated = Recipient.objects.filter(campaign=campaign, group=Group.TREATED).select_related("customer")
    return campaign, list(treated.order_by("customer_id"))


def _results_line(campaign, user):
    with translation.override("en"):
        results = checked_results(campaign=campaign, user=user)
    return results, next(line for line in results.lines if line.label == "All who received it")


def test_tracked_links_count_clicks_and_redirect_only_to_the_original(smtp, client, portfolio, manager):
    campaign, treated = _send(manager, portfolio, track=True)
    first, second = treated[0], treated[1]
    text = smtp.to(first.customer.email)[0].text()
    assert SHOP not in text and OFFERS not in text
    links = re.findall(r"https?://\S+/campaigns/c/[^/\s]+/", text)
    assert len(links) == 2
    # The sentence's punctuation stays outside the link; the unsubscribe link is not rewritten.
    assert f"{links[0]}." in text and f"({links[1]})." in text
    assert "/u/" in text.rsplit("-- ", 1)[1]
    # Each recipient's links are their own.
    assert links[0] not in smtp.to(second.customer.email)[0].text()

    shop_path = urlsplit(links[0]).path
    response = client.get(shop_path)  # no login: the recipient is not a user
    assert response.status_code == 302 and response["Location"] == SHOP
    assert response["Referrer-Policy"] == "no-referrer"
    client.get(shop_path)
    client.get(urlsplit(links[1]).path)
    clicks = {c.link: c for c in Click.objects.filter(recipient=first)}
    assert (clicks[1].url, clicks[1].count, clicks[2].url, clicks[2].count) == (SHOP, 2, OFFERS, 1)
    # The first click of each link goes on the timeline, once.
    opened = Interaction.objects.filter(customer=first.customer, subject__contains="opened the link")
    assert opened.count() == 2

    # No open redirect: an altered token, or one signed with another key, or for another address, is a 404.
    token = shop_path.rstrip("/").rsplit("/", 1)[1]
    assert client.get(reverse("campaigns:click", args=[token[:-2] + "xx"])).status_code == 404
    forged = signing.Signer(key="not-our-secret", salt=CLICK_SALT, algorithm="sha256").sign_object(
        [first.pk, 1, "https://evil.example/"], compress=True
    )
    assert client.get(reverse("campaigns:click", args=[forged])).status_code == 404
    javascript = click_token(TrackedLink(first.pk, 1, "javascript:alert(1)"))
    assert client.get(reverse("campaigns:click", args=[javascript])).status_code == 404
    assert Click.objects.filter(recipient=first).count() == 2

    results, line = _results_line(campaign, manager)
    assert line.clicked == 1
    assert results.links == [(1, SHOP, 1), (2, OFFERS, 1)]
    page = client.get(reverse("campaigns:results", args=[campaign.pk]))
    assert page.status_code == 302  # the results page needs a login
    client.force_login(manager)
    page = client.get(reverse("campaigns:results", args=[campaign.pk]))
    assert SHOP in page.text and 'id="results-links"' in page.text


def test_without_tracking_links_are_sent_as_written(smtp, portfolio, manager):
    campaign, treated = _send(manager, portfolio, track=False)
    text = smtp.to(treated[0].customer.email)[0].text()
    assert SHOP in text and OFFERS in text and "/campaigns/c/" not in text
    assert _results_line(campaign, manager)[0].links == []


def test_replies_logged_from_the_results_page_and_from_forwarded_mail(
    smtp, client, portfolio, manager, colleague, tmp_path
):
    campaign, treated = _send(manager, portfolio, track=False)
    first, second, third = treated[0], treated[1], treated[2]

    # A user pastes a reply on the results page.
    client.force_login(manager)
    response = client.post(
        reverse("campaigns:reply", args=[campaign.pk]),
        {"email": first.customer.email.upper(), "text": "Gracias, me interesa la oferta."},
    )
    assert response.status_code == 302
    reply = Interaction.objects.get(customer=first.customer, direction="inbound")
    assert reply.body == "Gracias, me interesa la oferta." and reply.author == manager
    assert "Otoño" in reply.subject
    # Someone who did not receive it is refused with a message; so is a rep for another rep's customer.
    client.post(reverse("campaigns:reply", args=[campaign.pk]), {"email": "nadie@example.es", "text": "x"})
    client.force_login(colleague)  # the at-risk customers belong to ``owner``
    client.post(reverse("campaigns:reply", args=[campaign.pk]), {"email": second.customer.email, "text": "x"})
    assert Interaction.objects.filter(direction="inbound").count() == 1
    with pytest.raises(services.PermissionDenied):
        services.reply_record(actor=colleague, recipient=second, text="x")

    # Forwarded replies: an .eml answering the outbox message, and an mbox with a reply matched by
    # its sender and a message that answers no campaign.
    sent = OutboxMessage.objects.get(reference=second.reference)
    eml = EmailMessage()
    eml["From"] = f"Cliente <{second.customer.email}>"
    eml["To"] = "cartera@localhost"
    eml["Subject"] = "Re: Otoño"
    eml["In-Reply-To"] = sent.message_id
    eml["Date"] = "Tue, 01 Dec 2026 10:00:00 +0100"
    eml.set_content("¿Sirve el código en tienda?")
    (tmp_path / "reply.eml").write_bytes(bytes(eml))
    box = mailbox.mbox(tmp_path / "replies.mbox")
    by_sender = EmailMessage()
    by_sender["From"] = third.customer.email
    by_sender["Subject"] = "Re: Otoño"
    by_sender.set_content("Ya no vivo en Madrid.")
    stranger = EmailMessage()
    stranger["From"] = "spam@example.com"
    stranger["Subject"] = "Oferta"
    stranger.set_content("Compre ya")
    box.add(by_sender)
    box.add(stranger)
    box.close()
    out = io.StringIO()
    call_command(
        "campaign",
        "replies",
        str(tmp_path / "reply.eml"),
        str(tmp_path / "replies.mbox"),
        lang="en",
        stdout=out,
    )
    assert "logged 2 replies; 1 answered no campaign" in out.getvalue()
    logged = Interaction.objects.get(customer=second.customer, direction="inbound")
    assert logged.body.strip() == "¿Sirve el código en tienda?" and "Re: Otoño" in logged.subject
    assert logged.occurred_at.isoformat().startswith("2026-12-01T09:00")
    assert Interaction.objects.get(customer=third.customer, direction="inbound").body.strip() == (
        "Ya no vivo en Madrid."
    )
    line = _results_line(campaign, manager)[1]
    assert line.replied == 3


def test_a_link_too_long_to_record_is_sent_as_written():
    from cartera.campaigns.tracking import track_links

    long_link = "https://tienda.example/" + "a" * 2100
    text = f"Mira {long_link} y https://tienda.example/corto."
    tracked = track_links(text, 7)
    assert long_link in tracked and "https://tienda.example/corto" not in tracked
    assert tracked.endswith("/.") and "/campaigns/c/" in tracked
