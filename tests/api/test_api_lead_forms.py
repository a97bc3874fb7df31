"""Lead forms through the REST API: managers list, read, build and change them (with If-Match, like
every PATCH) through the same service as the web page, and page through their answers; sales reps and
outsiders reach none of it (issue 15: "API endpoints for ... forms")."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from cartera.pipeline.models import LeadForm, LeadSubmission
from cartera.pipeline.services import lead_submit

pytestmark = pytest.mark.django_db

CONSENT = "Quiero recibir ofertas por correo electrónico."


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


def body(owner, **extra):
    values = {
        "name": "Web contacto",
        "title": "Pide información",
        "fields": ["last_name", "phone", "city"],
        "required_fields": ["last_name"],
        "consent_text": CONSENT,
        "allowed_origins": "https://www.tienda.example",
        "assignment": "fixed",
        "assign_to": owner.pk,
    }
    return {**values, **extra}


@pytest.fixture
def lead_form(manager_api, owner):
    response = manager_api.post("/api/lead-forms", body(owner))
    assert response.status_code == 201, response.json()
    return LeadForm.objects.get(pk=response.json()["id"])


def test_a_manager_builds_a_form(manager_api, manager, owner):
    response = manager_api.post("/api/lead-forms", body(owner))
    assert response.status_code == 201
    made = response.json()
    assert made["fields"] == ["first_name", "email", "last_name", "phone", "city"]
    assert made["required_fields"] == ["first_name", "email", "last_name"]
    assert (made["assign_to"], made["created_by"], made["consent_version"]) == (owner.pk, manager.pk, 1)
    assert made["slug"].startswith("web-contacto-") and made["answer_count"] == 0
    assert LeadForm.objects.get(pk=made["id"]).consent_text == CONSENT


def test_a_round_robin_form_takes_its_people(manager_api, owner, colleague):
    response = manager_api.post(
        "/api/lead-forms",
        body(owner, assignment="round_robin", assign_to=None, round_robin_users=[owner.pk, colleague.pk]),
    )
    assert response.status_code == 201
    assert response.json()["round_robin_users"] == sorted([owner.pk, colleague.pk])


def test_list_and_read(manager_api, lead_form):
    listing = manager_api.get("/api/lead-forms")
    assert [row["id"] for row in listing.json()["items"]] == [lead_form.pk]
    detail = manager_api.get(f"/api/lead-forms/{lead_form.pk}")
    assert detail.status_code == 200 and detail["ETag"]
    assert detail.json()["title"] == "Pide información"


def test_a_patch_changes_what_is_sent_and_a_new_consent_text_gets_a_new_version(manager_api, lead_form):
    url = f"/api/lead-forms/{lead_form.pk}"
    response = manager_api.patch(url, {"consent_text": "Acepto recibir ofertas.", "active": False})
    assert response.status_code == 200
    changed = response.json()
    assert (changed["consent_version"], changed["active"]) == (2, False)
    assert changed["fields"] == ["first_name", "email", "last_name", "phone", "city"]  # kept
    assert changed["assign_to"] == lead_form.assign_to_id
    assert manager_api.patch(url, {"fields": ["city"], "required_fields": []}).json()["fields"] == [
        "first_name",
        "email",
        "city",
    ]


def test_a_patch_with_an_old_etag_is_refused_and_the_newer_edit_kept(api_as, make_user, manager, lead_form):
    url = f"/api/lead-forms/{lead_form.pk}"
    mine, theirs = api_as(make_user("marina", "manager")), api_as(manager)
    etag = mine.get(url)["ETag"]
    assert theirs.patch(url, {"intro": "Cambiado por Marta"}).status_code == 200
    stale = mine.patch(url, {"title": "Mi título"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    lead_form.refresh_from_db()
    assert (lead_form.intro, lead_form.title) == ("Cambiado por Marta", "Pide información")
    fresh = mine.get(url)["ETag"]
    ok = mine.patch(url, {"title": "Mi título"}, headers={"If-Match": fresh})
    assert ok.status_code == 200 and ok["ETag"] not in ("", fresh)


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"fields": ["salary"]}, "fields"),
        ({"stage": "customer"}, "stage"),
        ({"allowed_origins": "https://x.example/path"}, "allowed_origins"),
        ({"assign_to": 999999}, "assign_to"),
        ({"assign_to": None}, "assign_to"),
        ({"assignment": "round_robin", "round_robin_users": []}, "round_robin_users"),
        ({"round_robin_users": [999999]}, "round_robin_users"),
        ({"name": ""}, "name"),
        ({"language": "fr"}, "language"),
        ({"slug": "mine"}, "slug"),
    ],
)
def test_bad_forms_are_a_422_naming_the_field(manager_api, owner, extra, field):
    response = manager_api.post("/api/lead-forms", body(owner, **extra))
    assert response.status_code == 422
    assert any(error["loc"][-1] == field for error in response.json()["detail"]), response.json()
    assert not LeadForm.objects.exists()


def test_a_bad_patch_changes_nothing(manager_api, lead_form):
    before = LeadForm.objects.filter(pk=lead_form.pk).values().get()
    for change in ({"title": None}, {"stage": "former"}, {"fields": ["nope"]}):
        response = manager_api.patch(f"/api/lead-forms/{lead_form.pk}", change)
        assert response.status_code == 422, change
    assert LeadForm.objects.filter(pk=lead_form.pk).values().get() == before


def test_answers_are_paged_newest_first(manager_api, lead_form):
    for i in range(3):
        lead_submit(
            lead_form=lead_form,
            answers={"first_name": f"Ana{i}", "email": f"ana{i}@example.es", "last_name": "Ruiz"},
            consent=i == 0,
            language="es",
            utm={"utm_campaign": "otoño"},
        )
    first = manager_api.get(f"/api/lead-forms/{lead_form.pk}/submissions", {"limit": 2}).json()
    assert [row["answers"]["first_name"] for row in first["items"]] == ["Ana2", "Ana1"]
    assert first["items"][0]["utm_campaign"] == "otoño" and first["next_cursor"]
    rest = manager_api.get(
        f"/api/lead-forms/{lead_form.pk}/submissions", {"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    [last] = rest["items"]
    assert (
        last["answers"]["first_name"] == "Ana0" and last["consent_ticked"] and last["consent_text"] == CONSENT
    )
    assert rest["next_cursor"] is None
    assert manager_api.get(f"/api/lead-forms/{lead_form.pk}").json()["answer_count"] == 3
    bad = manager_api.get(f"/api/lead-forms/{lead_form.pk}/submissions", {"cursor": "nope"})
    assert bad.status_code == 400


def test_sales_reps_and_outsiders_reach_no_form(owner_api, outsider_api, lead_form, owner):
    for api in (owner_api, outsider_api):
        assert api.get("/api/lead-forms").json() == {"items": [], "next_cursor": None}
        assert api.get(f"/api/lead-forms/{lead_form.pk}").status_code == 404
        assert api.get(f"/api/lead-forms/{lead_form.pk}/submissions").status_code == 404
        assert api.patch(f"/api/lead-forms/{lead_form.pk}", {"title": "x"}).status_code == 404
        assert api.post("/api/lead-forms", body(owner, name="Mío")).status_code == 403
    assert LeadForm.objects.count() == 1 and not LeadSubmission.objects.exists()
    lead_form.refresh_from_db()
    assert lead_form.title == "Pide información"
