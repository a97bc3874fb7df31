"""Lead capture: a public form built by a manager brings people in as leads with a task for their owner;
marketing consent is granted only after the e-mailed confirmation (double opt-in, a real SMTP server);
an existing person is updated, never duplicated, and the page never tells which happened."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from cartera.activity.models import Interaction, Task
from cartera.customers.models import Customer, Stage
from cartera.messaging.services import deliver_pending
from cartera.pipeline import services
from cartera.pipeline.models import LeadAssignment, LeadForm, LeadSubmission
from cartera.privacy.models import ConsentEvent
from tests.conftest import login

pytestmark = pytest.mark.django_db

CONSENT = "Quiero recibir ofertas de Tienda por correo electrónico."


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rep(make_user):
    return make_user("rep", "sales_rep", first_name="Rita", last_name="Rep", email="rita@cartera.example")


def build(manager, assign_to, **extra):
    values = {
        "name": "Web contacto",
        "active": True,
        "title": "Pide información",
        "intro": "",
        "thank_you": "",
        "language": "es",
        "stage": Stage.PROSPECT,
        "consent_text": CONSENT,
        "allowed_origins": "https://www.tienda.example",
        "assignment": LeadAssignment.FIXED,
        "assign_to": assign_to,
    }
    values.update(extra.pop("values", {}))
    return services.lead_form_save(
        actor=manager,
        lead_form=extra.pop("lead_form", None),
        settings_values=values,
        fields=extra.pop("fields", ["last_name", "phone", "city", "notes"]),
        required=extra.pop("required", ["last_name"]),
        round_robin_users=extra.pop("round_robin_users", []),
    )


@pytest.fixture
def lead_form(manager, rep):
    return build(manager, rep)


def post(client, lead_form, data, *, address="203.0.113.7", query=""):
    payload = {"token": services.lead_page_token(lead_form), "website": "", **data}
    url = reverse("pipeline:lead_public", args=[lead_form.slug]) + query
    return client.post(url, payload, REMOTE_ADDR=address)


ANA = {"f_first_name": "Ana", "f_last_name": "Ruiz", "f_email": "Ana.Ruiz@Example.com", "f_city": "Sevilla"}


def test_building_a_form_always_asks_name_and_email_and_versions_the_consent_text(manager, rep, lead_form):
    assert lead_form.fields == ["first_name", "email", "last_name", "phone", "city", "notes"]
    assert lead_form.required_fields == ["first_name", "email", "last_name"]
    assert lead_form.consent_version_label == f"leadform-{lead_form.pk}-v1"
    same = build(manager, rep, lead_form=lead_form)
    assert same.consent_version == 1
    changed = build(manager, rep, lead_form=lead_form, values={"consent_text": "Otro texto."})
    assert changed.consent_version == 2


def test_only_managers_build_forms_and_bad_settings_are_explained(manager, rep, owner):
    with pytest.raises(PermissionDenied):
        build(owner, owner)
    with pytest.raises(ValidationError) as bad_origin:
        build(manager, rep, values={"allowed_origins": "www.tienda.example/contacto"})
    assert "allowed_origins" in bad_origin.value.message_dict
    with pytest.raises(ValidationError) as nobody:
        build(manager, None, values={"assignment": LeadAssignment.ROUND_ROBIN})
    assert "round_robin_users" in nobody.value.message_dict
    with pytest.raises(ValidationError):
        build(manager, rep, fields=["password"])


def test_the_page_may_be_framed_only_by_the_listed_sites(client, lead_form, manager, rep):
    page = client.get(reverse("pipeline:lead_public", args=[lead_form.slug]))
    assert page.status_code == 200
    policy = page["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://www.tienda.example" in policy
    assert "X-Frame-Options" not in page
    assert "<script>" not in page.content.decode()  # only the static file: no inline script
    closed = build(manager, rep, values={"name": "Sin web", "allowed_origins": ""})
    page = client.get(reverse("pipeline:lead_public", args=[closed.slug]))
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"] and page["X-Frame-Options"] == "DENY"


def test_a_new_visitor_becomes_a_prospect_with_source_a_task_and_a_pending_consent(
    client, lead_form, rep, manager, smtp, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(
            client,
            lead_form,
            {**ANA, "consent": "on", "page_url": "https://www.tienda.example/contacto", "utm_source": "news",
             "utm_medium": "email", "utm_campaign": "primavera"},
        )  # fmt: skip
    assert response.status_code == 200 and "Gracias" in response.content.decode()
    person = Customer.objects.get(email="ana.ruiz@example.com")
    assert (person.stage, person.source, person.owner, person.city) == (Stage.PROSPECT, "web", rep, "Sevilla")
    submission = LeadSubmission.objects.get()
    assert submission.created_new and submission.owner == rep
    assert (submission.utm_campaign, submission.utm_source) == ("primavera", "news")
    assert submission.page_url == "https://www.tienda.example/contacto"
    assert submission.consent_text == CONSENT and submission.consent_version == f"leadform-{lead_form.pk}-v1"
    task = Task.objects.get(assignee=rep)
    assert "Ana Ruiz" in task.title and task.customer == person
    assert Interaction.objects.filter(customer=person, subject__contains="Web contacto").exists()
    # Ticked is not given: nothing in the ledger, no flag, until the person confirms.
    assert not person.opt_in_email and not ConsentEvent.objects.filter(customer=person).exists()
    assert deliver_pending().sent == 2  # the confirmation to Ana, the task notice to Rita
    [confirmation] = smtp.to("ana.ruiz@example.com")
    [notice] = smtp.to("rita@cartera.example")
    assert "Ana Ruiz" in notice.text()
    link = re.search(r"https://cartera\.example(/pipeline/f/confirm/\S+/)", confirmation.text()).group(1)
    assert client.get(link).status_code == 200  # a link scanner opening it confirms nothing
    assert not ConsentEvent.objects.filter(customer=person).exists()
    assert client.post(link).status_code == 200
    event = ConsentEvent.objects.get(customer=person)
    assert (event.channel, event.purpose, event.granted, event.source) == ("email", "marketing", True, "form")
    assert event.wording == CONSENT and event.version == submission.consent_version
    person.refresh_from_db()
    assert person.opt_in_email
    client.post(link)  # twice is once
    assert ConsentEvent.objects.filter(customer=person).count() == 1


def test_a_forged_confirmation_link_is_not_found(client):
    assert client.get(reverse("pipeline:lead_confirm", args=["1:forged:sig"])).status_code == 404


def test_without_the_box_ticked_no_confirmation_is_sent(client, lead_form, smtp):
    post(client, lead_form, ANA)
    assert deliver_pending().sent == 0 and smtp.to("ana.ruiz@example.com") == []
    assert not LeadSubmission.objects.get().consent_ticked


def test_an_existing_person_is_updated_not_duplicated_and_the_page_does_not_tell(
    client, lead_form, customer, owner, rep
):
    customer.city = ""
    customer.save()
    stranger = post(client, lead_form, {**ANA, "f_email": "nueva@example.com"}, address="203.0.113.8")
    known = post(
        client,
        lead_form,
        {"f_first_name": "Otra", "f_last_name": "Persona", "f_email": "LUCIA@example.es", "f_city": "Cádiz"},
    )
    assert known.status_code == stranger.status_code == 200
    assert known.content == stranger.content
    assert Customer.objects.filter(email="lucia@example.es").count() == 1
    customer.refresh_from_db()
    # Only the empty city is filled in; the name the team knows stays; the owner stays.
    assert (customer.first_name, customer.city, customer.owner) == ("Lucía", "Cádiz", owner)
    submission = LeadSubmission.objects.get(customer=customer)
    assert not submission.created_new and submission.owner == owner
    [task] = Task.objects.filter(assignee=owner, customer=customer)
    assert "Lucía Martínez Ortega" in task.title
    # Matched by phone when the e-mail is new.
    post(client, lead_form, {**ANA, "f_email": "otra@example.com", "f_phone": "+34 612 345 678"})
    assert Customer.objects.filter(phone="+34612345678").count() == 1


def test_honeypot_answers_look_accepted_but_nothing_is_kept(client, lead_form):
    response = post(client, lead_form, {**ANA, "website": "http://spam.example"})
    assert response.status_code == 200 and "Gracias" in response.content.decode()
    assert not Customer.objects.exists() and not LeadSubmission.objects.exists()


def test_an_answer_without_the_pages_token_is_refused(client, lead_form):
    response = post(client, lead_form, {**ANA, "token": "forged"})
    assert response.status_code == 400 and not Customer.objects.exists()


def test_too_many_answers_from_one_address_are_refused(client, lead_form):
    for i in range(5):
        assert post(client, lead_form, {**ANA, "f_email": f"p{i}@example.com"}).status_code == 200
    refused = post(client, lead_form, {**ANA, "f_email": "p9@example.com"})
    assert refused.status_code == 429 and refused["Retry-After"]
    assert Customer.objects.count() == 5
    assert (
        post(client, lead_form, {**ANA, "f_email": "p9@example.com"}, address="198.51.100.1").status_code
        == 200
    )


def test_missing_required_fields_are_explained_in_the_visitors_language(client, lead_form):
    spanish = post(client, lead_form, {"f_first_name": "Ana", "f_email": "no-es-correo"})
    assert spanish.status_code == 400 and "Este campo es obligatorio" in spanish.content.decode()
    english = post(client, lead_form, {"f_first_name": "Ana", "f_email": "x@example.com", "lang": "en"})
    assert english.status_code == 400 and "This field is required" in english.content.decode()
    page = client.get(reverse("pipeline:lead_public", args=[lead_form.slug]) + "?lang=en")
    assert "Last name" in page.content.decode() and page["Content-Language"] == "en"
    assert not Customer.objects.exists()


def test_round_robin_gives_new_leads_in_turn(client, manager, rep, owner):
    lead_form = build(
        manager, None, values={"assignment": LeadAssignment.ROUND_ROBIN}, round_robin_users=[rep, owner]
    )
    for i in range(4):
        post(client, lead_form, {**ANA, "f_email": f"turno{i}@example.com"}, address=f"203.0.113.{i}")
    owners = list(Customer.objects.order_by("id").values_list("owner__username", flat=True))
    assert owners == ["owner", "rep", "owner", "rep"] or owners == ["rep", "owner", "rep", "owner"]


def test_custom_fields_can_be_asked(client, manager, rep, custom_field_set):
    lead_form = build(manager, rep, fields=["cf:shoe", "cf:store"], required=[])
    response = post(client, lead_form, {**ANA, "f_cf:shoe": "41,5", "f_cf:store": "Norte"})
    assert response.status_code == 200, response.content.decode()
    person = Customer.objects.get(email="ana.ruiz@example.com")
    assert person.custom_fields["store"] == "Norte"


def test_managers_pages_and_nobody_else(client, manager, owner, lead_form):
    login(client, manager)
    assert client.get(reverse("pipeline:lead_forms")).status_code == 200
    page = client.get(reverse("pipeline:lead_form", args=[lead_form.pk]))
    assert page.status_code == 200 and "lead-embed.js" in page.content.decode()
    created = client.post(
        reverse("pipeline:lead_form_new"),
        {"name": "Feria", "title": "Feria 2026", "language": "en", "stage": "suspect", "assignment": "fixed",
         "assign_to": manager.pk, "fields_asked": ["phone"], "active": "on"},
    )  # fmt: skip
    assert created.status_code == 302
    assert LeadForm.objects.get(name="Feria").fields == ["first_name", "email", "phone"]
    client.logout()
    login(client, owner)
    assert client.get(reverse("pipeline:lead_forms")).status_code == 403
    assert client.get(reverse("pipeline:lead_form", args=[lead_form.pk])).status_code == 404


@pytest.mark.parametrize(
    ("lang", "said"),
    [("es", "No hemos podido recoger tu respuesta"), ("en", "Your answer could not be taken")],
)
def test_a_refusal_by_the_service_tells_the_visitor_nothing_about_the_file(
    client, lead_form, manager, lang, said
):
    """What the service refuses after the form's own checks is about the file (here the form's
    author has left; elsewhere a value another record holds, whose message names that record): the
    visitor gets one plain sentence in their language, never the service's message or a link."""
    manager.is_active = False
    manager.save(update_fields=["is_active"])
    response = post(client, lead_form, ANA, query=f"?lang={lang}")
    page = response.content.decode()
    assert response.status_code == 400 and said in page
    assert "not accepting" not in page and "no recibe respuestas" not in page and "/customers/" not in page
    assert not Customer.objects.filter(email="ana.ruiz@example.com").exists()


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_save_from_an_older_settings_page_is_refused_and_shows_the_other_managers_values(
    manager, rep, make_user, lead_form, language
):
    """Two managers open the same lead form; the second saves after the first: refused, nothing
    overwritten, the first one's consent text shown next to what the second typed."""
    import re

    from django.test import Client

    from cartera.pipeline.models import LeadForm

    other = make_user("segunda", "manager", first_name="Sara", last_name="Segunda")
    url = reverse("pipeline:lead_form", args=[lead_form.pk])
    second = Client(headers={"Accept-Language": language})
    second.force_login(other)
    found = re.search(r'name="version" value="([^"]*)"', second.get(url).content.decode())
    assert found, "the page carries the version it was read at"
    build(manager, rep, lead_form=lead_form, values={"consent_text": "Texto nuevo de Marta."})
    typed = {
        "name": "Web contacto", "active": "on", "title": "Pide información ya", "intro": "", "thank_you": "",
        "language": "es", "stage": "prospect", "consent_text": CONSENT, "allowed_origins": "https://www.tienda.example",
        "assignment": "fixed", "assign_to": rep.pk, "fields_asked": ["last_name"], "fields_required": [],
        "version": found.group(1),
    }  # fmt: skip

    response = second.post(url, typed)

    assert response.status_code == 200
    body = response.content.decode()
    meanwhile = {
        "es": "Guardado mientras tanto: Texto nuevo de Marta.",
        "en": "Saved meanwhile: Texto nuevo de Marta.",
    }
    assert meanwhile[language] in body
    assert 'value="Pide información ya"' in body  # what the second manager typed is still there
    # The boxes ticked meanwhile, by their labels (not their codes).
    assert re.search(
        r"(Guardado mientras tanto|Saved meanwhile): [^<]*([Tt]eléfono|[Pp]hone), ([Ll]ocalidad|[Cc]ity)",
        body,
    )
    stored = LeadForm.objects.get(pk=lead_form.pk)
    assert (stored.consent_text, stored.title) == ("Texto nuevo de Marta.", "Pide información")
    again = second.post(
        url, {**typed, "version": re.search(r'name="version" value="([^"]*)"', body).group(1)}
    )
    assert again.status_code == 302
    stored.refresh_from_db()
    assert (stored.consent_text, stored.title) == (CONSENT, "Pide información ya")
