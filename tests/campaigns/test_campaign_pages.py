"""The campaign pages as a manager walks them (create from a segment, write, review, preview, test
send, send, progress, results), as a sales rep (reads, scoped) and the API and command line."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.urls import reverse

from cartera.campaigns.models import Campaign, Recipient
from cartera.messaging.services import deliver_pending
from tests.campaigns.conftest import checked_results
from tests.campaigns.test_campaign_flow import SETTINGS
from tests.conftest import login

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(client):
    """These checks read the English text (the Spanish pages are walked by the browser test)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


def form_data(segments, **extra):
    data = {k: v for k, v in SETTINGS.items() if v is not None}
    data["promo_valid_until"] = SETTINGS["promo_valid_until"].isoformat()
    data["promo_discount"] = "15"
    data["segments"] = [s.pk for s in segments]
    data.update(extra)
    return data


def test_a_manager_creates_reviews_and_sends_from_the_pages(client, smtp, portfolio, manager):
    manager.email = "marta@cartera.example"
    manager.save()
    login(client, manager)
    segment_page = client.get(reverse("segments:detail", args=[portfolio["at_risk"].pk])).content.decode()
    assert f"/campaigns/new/?segment={portfolio['at_risk'].pk}" in segment_page
    form = client.get(f"/campaigns/new/?segment={portfolio['at_risk'].pk}").content.decode()
    assert f'value="{portfolio["at_risk"].pk}" id="id_segments_0" checked' in form or "checked" in form
    response = client.post("/campaigns/new/", form_data([portfolio["at_risk"], portfolio["inactive"]]))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/campaigns/{campaign.pk}/"
    message = campaign.messages.get(segment=portfolio["at_risk"])
    url = f"/campaigns/{campaign.pk}/messages/{message.pk}/"
    bad = client.post(url, {"channel": "email", "a_subject": "Hola", "a_body": "Hola\n{{ nombre }}"})
    assert bad.status_code == 200 and "Line 2" in bad.content.decode() and "nombre" in bad.content.decode()
    good = client.post(
        url,
        {"channel": "email", "a_subject": "{{ first_name }}, vuelve", "a_body": "Código {{ promo_code }}",
         "b_enabled": "on", "b_share": "30", "b_subject": "Regalo", "b_body": "Para ti {{ promo_code }}"},
    )  # fmt: skip
    assert good.status_code == 302
    assert sorted(message.variants.values_list("label", "share")) == [("A", 70), ("B", 30)]
    review = client.get(f"/campaigns/{campaign.pk}/review/").content.decode()
    assert 'id="count-treated">180<' in review and 'id="count-control">20<' in review
    assert "Unsubscribed" in review and "Address bounced" in review and "No e-mail address" in review
    assert "Sincorreo" in review  # the excluded are listed by name
    variant = message.variants.get(label="B")
    customer = portfolio["customers"][3]
    preview = client.get(f"/campaigns/{campaign.pk}/review/?variant={variant.pk}&customer={customer.pk}")
    assert "Para ti VUELVE-XXXXXX" in preview.content.decode()
    client.post(f"/campaigns/{campaign.pk}/test/", {"variant": variant.pk, "customer": customer.pk})
    deliver_pending()
    [test_mail] = smtp.to("marta@cartera.example")
    assert test_mail.message["Subject"] == "[TEST] Regalo"
    assert client.post(f"/campaigns/{campaign.pk}/send/").status_code == 302
    detail = client.get(f"/campaigns/{campaign.pk}/").content.decode()
    assert 'id="campaign-progress"' in detail and 'hx-trigger="every 2s"' in detail
    deliver_pending()
    fragment = client.get(f"/campaigns/{campaign.pk}/progress/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="progress-percent">100 %<' in fragment and "hx-trigger" not in fragment
    # The fragment's address opened by hand shows the campaign's page, not a bare fragment.
    assert client.get(f"/campaigns/{campaign.pk}/progress/")["Location"] == f"/campaigns/{campaign.pk}/"
    results = client.get(f"/campaigns/{campaign.pk}/results/").content.decode()
    checked_results(campaign=campaign, user=manager)
    assert (
        'id="results-table"' in results
        and 'data-chart="line"' in results
        and 'id="repurchase-data"' in results
    )
    assert "Not enough recipients to tell" in results


def test_a_sales_rep_reads_but_does_not_create_or_send(client, portfolio, manager, owner):
    from cartera.campaigns import services

    campaign = services.campaign_create(
        actor=manager, fields={**SETTINGS, "promo_mode": "none"}, segments=[portfolio["at_risk"], portfolio["inactive"]]
    )  # fmt: skip
    login(client, owner)
    assert client.get("/campaigns/new/").status_code == 403
    assert client.get(f"/campaigns/{campaign.pk}/review/").status_code == 403
    assert client.post(f"/campaigns/{campaign.pk}/send/").status_code == 403
    services.campaign_send(actor=manager, campaign=campaign)
    assert client.get("/campaigns/").status_code == 200
    results = client.get(f"/campaigns/{campaign.pk}/results/").content.decode()
    checked_results(campaign=campaign, user=owner)
    assert "only your customers" in results
    assert client.post(f"/campaigns/{campaign.pk}/pause/").status_code == 403
    assert Recipient.objects.filter(campaign=campaign).count() == 204


def test_the_api_and_the_command_line(client, portfolio, manager, owner):
    from cartera.accounts.services import api_token_create

    _token, key = api_token_create(user=manager, name="t")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    body = {
        "name": "API",
        "promo_mode": "shared",
        "promo_code": "API10",
        "promo_discount": "10",
        "messages": [
            {"segment": portfolio["at_risk"].pk, "variants": [{"subject": "Hola {{ first_name }}", "body": "Usa {{ promo_code }}"}]},
            {"segment": portfolio["inactive"].pk, "channel": "call", "talking_points": "Llamar"},
        ],
    }  # fmt: skip
    created = client.post("/api/campaigns", json.dumps(body), content_type="application/json", **headers)
    assert created.status_code == 201, created.content
    pk = created.json()["id"]
    bad = client.post(
        "/api/campaigns",
        json.dumps({**body, "messages": [{"segment": portfolio["at_risk"].pk, "variants": [{"subject": "x", "body": "{{ oops }}"}]}]}),
        content_type="application/json",
        **headers,
    )  # fmt: skip
    assert bad.status_code == 422 and "oops" in bad.content.decode()
    review = client.get(f"/api/campaigns/{pk}/review", **headers).json()
    assert review["treated"] == 180 and review["excluded"]["bounced"] == 1
    sent = client.post(f"/api/campaigns/{pk}/send", "{}", content_type="application/json", **headers).json()
    assert sent["status"] == "sending" and sent["calls"] == 72
    results = client.get(f"/api/campaigns/{pk}/results", **headers).json()
    assert results["lifts"][0]["sentence"].startswith("Not enough recipients")
    _rep_token, rep_key = api_token_create(user=owner, name="t")
    assert client.post(f"/api/campaigns/{pk}/pause", "{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {rep_key}").status_code == 403  # fmt: skip

    from io import StringIO

    out = StringIO()
    call_command("campaign", "results", str(pk), "--user", manager.username, lang="en", stdout=out)
    assert "All who received it: 180 recipients" in out.getvalue()
    out = StringIO()
    call_command("campaign", "pause", str(pk), "--user", manager.username, lang="en", stdout=out)
    assert out.getvalue().startswith("held 108")
