"""Two people change the same opportunity: whoever saves second from an older copy is refused, sees what
the other saved, and nothing is overwritten: on the edit page (its hidden version), on the
qualification checklist (the API's ``ETag`` / ``If-Match``: tests/api/test_api_stale_edits_everywhere.py)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from cartera.pipeline import selectors, services
from cartera.pipeline.models import Opportunity

pytestmark = pytest.mark.django_db

STALE = {
    "en": "Someone else saved this opportunity after you opened it, so your changes were not saved.",
    "es": "Otra persona guardó esta oportunidad después de que la abrieras, así que tus cambios no se han",
}
MEANWHILE = {"en": "Saved meanwhile: ", "es": "Guardado mientras tanto: "}


@pytest.fixture
def deal(owner, customer):
    services.pipeline_defaults_ensure()
    return services.opportunity_create(
        actor=owner, fields={"customer": customer, "title": "Reforma oficina", "value": Decimal("12000")}
    )


def _version(body: str) -> str:
    found = re.search(r'name="version" value="([^"]*)"', body)
    assert found, "the page carries the version it was read at"
    return found.group(1)


@pytest.mark.parametrize("language", ["es", "en"])
def test_an_edit_after_a_move_on_the_board_is_refused_and_shown(owner, manager, customer, deal, language):
    rep = Client(headers={"Accept-Language": language})
    rep.force_login(owner)
    url = reverse("pipeline:edit", args=[deal.pk])
    old = _version(rep.get(url).content.decode())
    later = selectors.stages_of(deal.pipeline)[2]
    services.opportunity_move(actor=manager, opportunity=deal, stage=later)  # the manager, on the board
    typed = {
        "title": "Reforma oficina", "value": "12000", "currency": "EUR", "pipeline": deal.pipeline_id,
        "stage": deal.stage_id, "probability": deal.probability, "source": "", "customer": customer.pk,
        "next_step": "Enviar presupuesto", "version": old,
    }  # fmt: skip

    response = rep.post(url, typed)

    assert response.status_code == 200
    body = response.content.decode()
    assert STALE[language] in body and MEANWHILE[language] + later.name in body
    assert 'value="Enviar presupuesto"' in body  # what the rep typed is still there
    stored = Opportunity.objects.get(pk=deal.pk)
    assert (stored.stage, stored.next_step) == (later, "")
    # The page now names the stored version: saving again (here keeping the new stage) goes through.
    again = rep.post(url, {**typed, "stage": later.pk, "version": _version(body)})
    assert again.status_code == 302
    stored.refresh_from_db()
    assert (stored.stage, stored.next_step) == (later, "Enviar presupuesto")


def test_a_qualification_from_an_old_page_does_not_undo_a_newer_one(owner, manager, deal):
    rep = Client(headers={"Accept-Language": "en"})
    rep.force_login(owner)
    old = _version(rep.get(reverse("pipeline:detail", args=[deal.pk])).content.decode())
    services.opportunity_update(actor=manager, opportunity=deal, fields={"qualification_notes": "Decide Ana"})

    response = rep.post(
        reverse("pipeline:qualify", args=[deal.pk]), {"has_need": "on", "version": old}, follow=True
    )

    assert STALE["en"] in response.content.decode()
    deal.refresh_from_db()
    assert (deal.has_need, deal.qualification_notes) == (False, "Decide Ana")
