"""Two people edit the same company, segment, persona or lawful basis: the one who saves second from an
older copy is refused, sees what the other person saved, and nothing is overwritten (issue 16: lost
update on every edit form, not only the customer's)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from cartera.customers.models import Company
from cartera.customers.services import company_create
from cartera.privacy.models import PrivacyProfile
from cartera.segments.models import Persona, Segment
from cartera.segments.services import persona_create, segment_create

MADRID = {
    "groups": "1", "match": "all", "g0-match": "all", "g0-rules": "1",
    "g0-r0-field": "region", "g0-r0-op": "eq", "g0-r0-value": "Madrid",
}  # fmt: skip
SEVILLA = {**MADRID, "g0-r0-value": "Sevilla"}


def _version(client: Client, url: str) -> str:
    found = re.search(r'name="version" value="([^"]*)"', client.get(url).content.decode())
    assert found, f"{url} carries the version it was read at"
    return found.group(1)


@pytest.fixture
def two_managers(make_user, manager):
    mine, theirs = Client(headers={"Accept-Language": "en"}), Client(headers={"Accept-Language": "en"})
    mine.force_login(make_user("marina", "manager"))
    theirs.force_login(manager)
    return mine, theirs


def test_company_edit(two_managers, manager):
    mine, theirs = two_managers
    company = company_create(actor=manager, fields={"name": "Talleres Ruiz"})
    url = reverse("customers:company_edit", args=[company.pk])
    old = _version(mine, url)
    theirs_post = {"name": "Talleres Ruiz", "region": "Aragón", "version": _version(theirs, url)}
    assert theirs.post(url, theirs_post).status_code == 302

    response = mine.post(url, {"name": "Talleres Ruiz e Hijos", "region": "", "version": old})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Someone else saved this" in body and "Saved meanwhile: Aragón" in body
    company.refresh_from_db()
    assert (company.name, company.region) == ("Talleres Ruiz", "Aragón")
    # The page now carries the stored version: saving again is deliberate and goes through.
    again = {"name": "Talleres Ruiz e Hijos", "region": "Aragón", "version": _from(body)}
    assert mine.post(url, again).status_code == 302
    assert Company.objects.get(pk=company.pk).name == "Talleres Ruiz e Hijos"


def test_segment_edit(two_managers, manager):
    mine, theirs = two_managers
    segment = segment_create(actor=manager, fields={"name": "Madrid", "definition": _definition("Madrid")})
    url = reverse("segments:edit", args=[segment.pk])
    old = _version(mine, url)
    theirs_post = {**SEVILLA, "name": "Sevilla", "action": "save", "version": _version(theirs, url)}
    assert theirs.post(url, theirs_post).status_code == 302

    response = mine.post(url, {**MADRID, "name": "Madrid centro", "action": "save", "version": old})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Someone else saved this" in body
    assert "Name saved meanwhile: Sevilla" in body and "Conditions saved meanwhile:" in body
    segment.refresh_from_db()
    assert segment.name == "Sevilla" and segment.definition["groups"][0]["rules"][0]["value"] == "Sevilla"
    again = {**MADRID, "name": "Madrid centro", "action": "save", "version": _from(body)}
    assert mine.post(url, again).status_code == 302
    assert Segment.objects.get(pk=segment.pk).name == "Madrid centro"


def test_persona_edit(two_managers, manager):
    mine, theirs = two_managers
    persona = persona_create(actor=manager, fields={"name": "Compradora", "needs": "Precio"})
    url = reverse("segments:persona_edit", args=[persona.pk])
    old = _version(mine, url)
    theirs_post = {**SEVILLA, "name": "Compradora", "needs": "Entrega rápida", "action": "save"}
    assert theirs.post(url, {**theirs_post, "version": _version(theirs, url)}).status_code == 302

    response = mine.post(url, {**MADRID, "name": "Compradora fiel", "needs": "Precio", "version": old})

    assert response.status_code == 200
    body = response.content.decode()
    assert "Someone else saved this" in body and "Saved meanwhile: Entrega rápida" in body
    assert "Conditions saved meanwhile:" in body
    persona.refresh_from_db()
    assert (persona.name, persona.needs) == ("Compradora", "Entrega rápida")
    again = {**MADRID, "name": "Compradora fiel", "needs": "Entrega rápida", "version": _from(body)}
    assert mine.post(url, again).status_code == 302
    assert Persona.objects.get(pk=persona.pk).name == "Compradora fiel"


def test_lawful_basis(two_managers, customer):
    mine, theirs = two_managers
    page = reverse("customers:detail", args=[customer.pk])
    url = reverse("privacy:profile_update", args=[customer.pk])
    theirs.post(url, {"lawful_basis": "consent", "basis_note": "", "language": ""})  # the profile exists
    old = _version(mine, page)
    their_note = {"lawful_basis": "contract", "basis_note": "Contrato 2024/17", "language": "es"}
    assert theirs.post(url, {**their_note, "version": _version(theirs, page)}).status_code == 302

    response = mine.post(url, {"lawful_basis": "consent", "basis_note": "", "version": old}, follow=True)

    body = response.content.decode()
    assert "Someone else saved this" in body and "Contrato 2024/17" in body
    profile = PrivacyProfile.objects.get(customer=customer)
    assert (profile.lawful_basis, profile.basis_note) == ("contract", "Contrato 2024/17")


def _from(body: str) -> str:
    return re.search(r'name="version" value="([^"]*)"', body).group(1)


def _definition(region: str) -> dict:
    return {
        "match": "all",
        "groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": region}]}],
    }
