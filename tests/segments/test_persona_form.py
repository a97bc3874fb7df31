"""The persona form edits the rule with the segment condition editor: no JSON to type."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cartera.segments.models import Persona
from cartera.segments.services import persona_create


@pytest.fixture
def client():
    return Client(headers={"Accept-Language": "en"})


MADRID = {
    "groups": "1", "match": "all", "g0-match": "all", "g0-rules": "1",
    "g0-r0-field": "region", "g0-r0-op": "eq", "g0-r0-value": "Madrid",
}  # fmt: skip


@pytest.fixture
def people(owner):
    from cartera.customers.services import customer_create

    return [
        customer_create(actor=owner, fields={"first_name": name, "region": region})
        for name, region in [("Ana", "Madrid"), ("Bea", "madrid"), ("Carla", "Sevilla")]
    ]


def test_a_new_persona_has_no_json_and_no_rule_by_default(client, owner, people):
    client.force_login(owner)
    page = client.get(reverse("segments:persona_new"))
    html = page.content.decode()
    assert 'name="rule"' not in html and "JSON" not in html
    assert 'id="builder"' in html and "add-rule" in html
    assert page.context["no_rule"] and "only the customers put in this persona by hand" in html
    # Saved without conditions: hand-picked members only.
    saved = client.post(reverse("segments:persona_new"), {"name": "A mano", "groups": "1", "g0-rules": "0"})
    assert saved.status_code == 302
    assert Persona.objects.get(name="A mano").definition == {}


def test_conditions_are_added_counted_and_saved(client, owner, people):
    client.force_login(owner)
    url = reverse("segments:persona_new")
    added = client.post(url, {"name": "x", "groups": "1", "g0-rules": "0", "action": "add_rule:0"},
                        headers={"HX-Request": "true"})  # fmt: skip
    assert added.status_code == 200 and added.content.decode().count('class="rule"') == 1
    assert not Persona.objects.exists()  # a builder button does not save
    counted = client.post(reverse("segments:count"), {**MADRID, "for": "persona"})
    assert "2 customers match" in counted.content.decode()
    nothing = client.post(reverse("segments:count"), {"groups": "1", "g0-rules": "0", "for": "persona"})
    assert "by hand" in nothing.content.decode()
    saved = client.post(url, {**MADRID, "name": "Madrileños", "action": "save"})
    assert saved.status_code == 302
    persona = Persona.objects.get(name="Madrileños")
    assert persona.definition == {
        "match": "all",
        "groups": [{"match": "all", "rules": [{"field": "region", "op": "eq", "value": "Madrid"}]}],
    }
    detail = client.get(reverse("segments:persona_detail", args=[persona.pk]))
    assert detail.context["report"].customers == 2
    assert "province / region is Madrid" in detail.content.decode()


def test_editing_shows_the_saved_rule_in_the_editor(client, owner, people):
    persona = persona_create(
        actor=owner,
        fields={"name": "Sevillanos", "definition": {"groups": [{"rules": [
            {"field": "region", "op": "eq", "value": "Sevilla"}]}]}},
    )  # fmt: skip
    client.force_login(owner)
    url = reverse("segments:persona_edit", args=[persona.pk])
    page = client.get(url)
    html = page.content.decode()
    assert '<option value="region" selected>' in html and 'value="Sevilla"' in html
    assert page.context["count"] == 1
    # Removing the only condition and saving leaves a persona of hand-picked members.
    cleared = client.post(url, {"name": "Sevillanos", "groups": "1", "g0-rules": "0", "action": "save"})
    assert cleared.status_code == 302
    persona.refresh_from_db()
    assert persona.definition == {}


def test_a_colleague_cannot_edit_the_rule(client, colleague, owner, people):
    persona = persona_create(actor=owner, fields={"name": "Mía"})
    client.force_login(colleague)
    url = reverse("segments:persona_edit", args=[persona.pk])
    assert client.post(url, {**MADRID, "name": "Suya", "action": "save"}).status_code == 403
    persona.refresh_from_db()
    assert persona.name == "Mía" and persona.definition == {}


def test_the_message_and_a_sane_age_range(client, owner):
    client.force_login(owner)
    url = reverse("segments:persona_new")
    base = {"groups": "1", "g0-rules": "0", "action": "save"}
    too_old = client.post(url, {**base, "name": "Viejos", "age_min": "30", "age_max": "5000"})
    assert too_old.status_code == 200 and too_old.context["form"].errors["age_max"]
    upside_down = client.post(url, {**base, "name": "Al revés", "age_min": "50", "age_max": "30"})
    assert upside_down.status_code == 200
    assert "ends before it starts" in " ".join(upside_down.context["form"].errors["age_max"])
    assert not Persona.objects.exists()
    message = "Tutéales; habla de envío gratis y de la app."
    saved = client.post(
        url, {**base, "name": "Jóvenes", "age_min": "18", "age_max": "24", "message": message}
    )
    persona = Persona.objects.get(name="Jóvenes")
    assert saved.status_code == 302 and persona.message == message
    page = client.get(reverse("segments:persona_detail", args=[persona.pk])).content.decode()
    assert "Message and approach" in page and "envío gratis" in page
