"""The records of processing: generated from the field table, the lawful bases recorded and the
retention settings in force, in both languages."""

from __future__ import annotations

from django.urls import reverse

from cartera.privacy.services import privacy_profile_update


def test_the_page_follows_the_configuration(client, owner, customer, settings):
    privacy_profile_update(
        actor=owner, customer=customer, lawful_basis="contract", basis_note="", language=""
    )
    settings.CARTERA_RETENTION = {**settings.CARTERA_RETENTION, "prospect_inactive_months": 18}
    client.force_login(owner)
    en = client.get(reverse("privacy:records"), HTTP_ACCEPT_LANGUAGE="en")
    assert en.status_code == 200
    records = en.context["records"]
    assert {"basis": "Contract", "customers": 1} in [
        {**b, "basis": str(b["basis"])} for b in records["bases"]
    ]
    body = en.content.decode()
    assert "18 months" in body and "birth date" in body and "Legitimate interest" in body
    es = client.get(reverse("privacy:records"), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "18 meses" in es and "Registro de actividades de tratamiento" in es


def test_outsider_is_refused(client, outsider):
    client.force_login(outsider)
    assert client.get(reverse("privacy:records")).status_code == 403
