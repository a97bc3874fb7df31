"""Two people edit the same customer: the one who saved second from an older copy is refused, sees
the other person's values next to theirs, and nothing is overwritten (issue 16: lost update)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from cartera.customers.models import Customer


def _edit_form(client: Client, customer: Customer) -> dict[str, str]:
    """What the edit page's form would post, as the browser filled it in when the page was opened."""
    body = client.get(reverse("customers:edit", args=[customer.pk])).content.decode()
    version = re.search(r'name="version" value="([^"]+)"', body)
    assert version, "the edit form carries the version it was read at"
    return {
        "version": version.group(1),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "email": customer.email or "",
        "phone": customer.phone,
        "stage": customer.stage,
        "country": customer.country,
        "city": customer.city,
        "notes": customer.notes,
        "owner": str(customer.owner_id),
    }


@pytest.fixture
def two_editors(owner, manager, customer):
    mine, theirs = Client(), Client()
    mine.force_login(owner)
    theirs.force_login(manager)
    return mine, theirs


def test_a_stale_save_is_refused_and_shows_the_other_persons_values(two_editors, customer):
    mine, theirs = two_editors
    my_copy = _edit_form(mine, customer)
    their_copy = _edit_form(theirs, customer)
    their_copy.update(city="Sevilla", notes="Prefiere llamadas por la tarde")
    assert theirs.post(reverse("customers:edit", args=[customer.pk]), their_copy).status_code == 302

    my_copy.update(first_name="Lucía María")
    response = mine.post(reverse("customers:edit", args=[customer.pk]), my_copy, HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 200
    body = response.content.decode()
    assert "Someone else saved this customer" in body
    assert "Sevilla" in body and "Prefiere llamadas por la tarde" in body
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Lucía", "Sevilla")
    assert customer.notes == "Prefiere llamadas por la tarde"
    # The page now carries the stored version: saving again is a deliberate choice and goes through.
    version = re.search(r'name="version" value="([^"]+)"', body).group(1)
    my_copy.update(version=version, city="Sevilla", notes=customer.notes)
    assert mine.post(reverse("customers:edit", args=[customer.pk]), my_copy).status_code == 302
    customer.refresh_from_db()
    assert (customer.first_name, customer.city) == ("Lucía María", "Sevilla")


def test_the_refusal_is_in_spanish_for_a_spanish_editor(two_editors, customer):
    mine, theirs = two_editors
    my_copy = _edit_form(mine, customer)
    their_copy = _edit_form(theirs, customer)
    their_copy["city"] = "Cádiz"
    theirs.post(reverse("customers:edit", args=[customer.pk]), their_copy)
    response = mine.post(reverse("customers:edit", args=[customer.pk]), my_copy, HTTP_ACCEPT_LANGUAGE="es")
    assert "Otra persona guardó este cliente" in response.content.decode()
