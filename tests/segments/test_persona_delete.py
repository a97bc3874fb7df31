"""Deleting a persona from its page: confirmed, and only by whom may change it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cartera.segments.models import Persona
from cartera.segments.services import persona_create


@pytest.fixture
def persona(owner, customer):
    made = persona_create(actor=owner, fields={"name": "Compradores de Madrid", "region": "Madrid"})
    made.members.add(customer)
    return made


def test_the_author_deletes_after_a_confirmation(client, owner, customer, persona):
    client.force_login(owner)
    page = client.get(reverse("segments:persona_detail", args=[persona.pk])).content.decode()
    url = reverse("segments:persona_delete", args=[persona.pk])
    assert f'action="{url}"' in page and "data-confirm=" in page
    assert client.get(url).status_code == 405  # a link or a prefetch deletes nothing
    answer = client.post(url)
    assert answer.status_code == 302 and answer.url == reverse("segments:persona_list")
    assert not Persona.objects.filter(pk=persona.pk).exists()
    customer.refresh_from_db()  # the customer stays
    assert not customer.personas.exists()


def test_a_manager_may_delete_any_persona(client, manager, persona):
    client.force_login(manager)
    assert client.post(reverse("segments:persona_delete", args=[persona.pk])).status_code == 302
    assert not Persona.objects.filter(pk=persona.pk).exists()


@pytest.mark.parametrize(("who", "status"), [("colleague", 403), ("outsider", 404)])
def test_nobody_else_deletes_it(client, request, persona, who, status):
    user = request.getfixturevalue(who)
    client.force_login(user)
    if who == "colleague":  # sees the persona, without the button
        page = client.get(reverse("segments:persona_detail", args=[persona.pk])).content.decode()
        assert reverse("segments:persona_delete", args=[persona.pk]) not in page
    assert client.post(reverse("segments:persona_delete", args=[persona.pk])).status_code == status
    persona.refresh_from_db()
    assert persona.name == "Compradores de Madrid" and persona.members.count() == 1
    client.logout()
    assert client.post(reverse("segments:persona_delete", args=[persona.pk])).status_code == 302  # to login
    assert Persona.objects.filter(pk=persona.pk).exists()


def test_an_unknown_persona_is_a_404(client, owner):
    client.force_login(owner)
    assert client.post(reverse("segments:persona_delete", args=[999_999])).status_code == 404
