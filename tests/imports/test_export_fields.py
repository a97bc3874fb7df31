"""The customer export is derived from the one field table (customers/fields.py): every field marked
exportable has its column, with the stored value; title, profession, preferred channel, the four
opt-ins and the income range are no longer left out (issues 9 and 16)."""

from __future__ import annotations

import csv
import io

from django.test import Client
from django.urls import reverse

from cartera.customers.fields import BY_NAME, field_names
from cartera.customers.services import customer_create

PERSON_FIELDS = ("title", "profession", "preferred_channel", "opt_in_email", "opt_in_sms", "income_range")


def _export(client: Client) -> list[dict[str, str]]:
    response = client.get(
        reverse("imports:export_customers", args=["csv"]), headers={"accept-language": "en"}
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def test_every_field_the_table_marks_exportable_is_a_column_with_its_value(manager, owner):
    assert set(PERSON_FIELDS) <= set(field_names(exportable=True))
    customer_create(
        actor=owner,
        fields={
            "first_name": "Pilar",
            "last_name": "Sanz",
            "title": "mrs",
            "profession": "Arquitecta",
            "preferred_channel": "phone",
            "opt_in_email": True,
            "income_range": "gt100k",
        },
    )
    client = Client()
    client.force_login(manager)
    with_language = _export(client)
    (row,) = with_language
    for name in field_names(exportable=True):
        # The company is two columns (name, tax id); custom_fields one column per admin-defined
        # field (tests/customers/test_custom_fields.py), none here.
        if name not in ("company", "custom_fields"):
            assert BY_NAME[name].label in row, f"{name} has its column"
    assert row["Title"] == "Mrs" and row["Profession"] == "Arquitecta"
    assert row["Preferred channel"] == "Phone" and row["Income range"] == "Over 100,000 €"
    assert row["Accepts email"] == "yes" and row["Accepts SMS"] == "no"
    assert (row["First name"], row["Company"], row["Tax id"]) == ("Pilar", "", "")
