"""Erasure (Art. 17) and objection (Art. 21): the person is anonymised, every personal field of every
model is covered by the one field table, orders stay so that revenue and the analysis do not move,
the e-mail goes to the suppression list, and only managers and admins may do it, with a typed
confirmation."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.apps import apps
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import models
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from cartera.activity.models import Interaction, Task
from cartera.activity.services import interaction_create, task_create
from cartera.customers.models import Customer
from cartera.customers.services import customer_update, tags_get_or_create
from cartera.imports.models import ImportJob, ImportRecord
from cartera.insights.models import CustomerMetrics
from cartera.insights.services import insights_refresh
from cartera.privacy.fields import ERASED, FIELDS, REDACTED, personal_fields
from cartera.privacy.models import AuditEntry, ConsentEvent, PrivacyProfile, SuppressedEmail
from cartera.privacy.selectors import consent_state, is_suppressed
from cartera.privacy.services import consent_record, customer_erase, privacy_profile_update
from cartera.sales.models import Order
from cartera.sales.services import order_create

CHECKED_FIELDS = (models.CharField, models.TextField, models.DateField, models.JSONField)


def test_every_text_date_email_and_json_field_of_every_model_is_declared():
    """A new field must be declared personal (and how it is erased) or not personal in fields.py."""
    missing, stale = [], []
    for model in apps.get_models():
        if not model.__module__.startswith("cartera."):
            continue
        label = model._meta.label_lower
        declared = FIELDS.get(label)
        concrete = {f.name for f in model._meta.concrete_fields if isinstance(f, CHECKED_FIELDS)}
        if declared is None:
            missing.append(f"{label}: the whole model")
            continue
        missing += [f"{label}.{name}" for name in sorted(concrete - set(declared))]
        stale += [f"{label}.{name}" for name in sorted(set(declared) - concrete)]
    assert not missing, f"declare these in cartera/privacy/fields.py: {missing}"
    assert not stale, f"no longer fields, remove from cartera/privacy/fields.py: {stale}"


@pytest.fixture
def lucia(owner, manager, customer):
    """Lucía with a bit of everything: profile, tags, notes, orders, interactions, tasks, consents,
    a lawful-basis note, an import record with her old values, audit lines and metrics."""
    customer_update(
        actor=owner,
        customer=customer,
        fields={"title": "ms", "job_title": "Gerente", "profession": "Arquitecta", "birth_date": "1985-04-02",
                "address": "Calle Mayor 1", "city": "Soria", "region": "Soria", "postal_code": "42001",
                "preferred_channel": "email", "income_range": "25k-40k", "notes": "Prefiere llamadas por la tarde",
                "opt_in_email": True},
        tags=tags_get_or_create(names=["VIP"]),
    )  # fmt: skip
    order_create(actor=owner, customer=customer, fields={"ordered_on": "2025-11-10", "amount": "120.00"})
    order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-02-02", "amount": "80.50"})
    interaction_create(actor=owner, customer=customer, fields={"kind": "call", "subject": "Lucía pide precio",
                                                                "body": "Su hijo Pablo vendrá el lunes"})  # fmt: skip
    task_create(actor=owner, fields={"title": "Llamar a Lucía", "notes": "móvil 612345678",
                                     "due_at": timezone.now(), "customer": customer})  # fmt: skip
    consent_record(actor=owner, customer=customer, channel="sms", purpose="surveys", granted=True,
                   source="form", wording="Encuestas por SMS", version="v1")  # fmt: skip
    privacy_profile_update(actor=owner, customer=customer, lawful_basis="contract",
                           basis_note="Contrato 2025/77 de Lucía Martínez", language="es")  # fmt: skip
    job = ImportJob.objects.create(kind="customers", file_name="f.csv", stored_path="", created_by=owner)
    ImportRecord.objects.create(job=job, model="customers.customer", object_id=customer.pk, action="updated",
                                row_number=2, previous={"city": "Almazán", "phone": "+34600000000"})  # fmt: skip
    insights_refresh(as_of=timezone.localdate())
    customer.refresh_from_db()
    return customer


def _totals():
    return Order.objects.aggregate(n=Count("id"), total=Sum("amount"))


def test_erasure_anonymises_everything_and_keeps_the_orders(manager, lucia, owner):
    before_totals = _totals()
    other = Customer.objects.create(first_name="Otra", email="otra@example.es", owner=owner)
    original = {name: getattr(lucia, name) for name in personal_fields("customers.customer")}
    metrics_before = CustomerMetrics.objects.filter(customer=lucia).values("revenue", "orders_count").get()

    report = customer_erase(actor=manager, customer=lucia, confirmation=f"ERASE {lucia.pk}")

    lucia.refresh_from_db()
    assert lucia.full_name == f"Anonymised #{lucia.pk}"
    for name, how in personal_fields("customers.customer").items():
        value = getattr(lucia, name)
        if original[name] not in (None, "", {}):
            assert value != original[name], name
        if how == "clear":
            assert value in (None, "", {}), name
    assert lucia.notes == REDACTED
    assert (lucia.first_name_key, lucia.last_name_key, lucia.email, lucia.company_id) == ("", "", None, None)
    assert not lucia.tags.exists()
    assert not (lucia.opt_in_email or lucia.opt_in_phone or lucia.opt_in_sms or lucia.opt_in_mail)
    assert not any(e and e.granted for e in consent_state(customer=lucia).values())
    # Free texts of the linked rows are redacted, the rows themselves stay.
    interaction = Interaction.objects.get(customer=lucia)
    assert (interaction.subject, interaction.body) == (REDACTED, REDACTED)
    task = Task.objects.get(customer=lucia)
    assert (task.title, task.notes) == (REDACTED, REDACTED)
    assert PrivacyProfile.objects.get(customer=lucia).basis_note == REDACTED
    assert ImportRecord.objects.get(object_id=lucia.pk).previous is None
    # The audit log keeps that things happened, but not her old values.
    for entry in AuditEntry.objects.filter(target_id=lucia.pk, target_type="customers.customer"):
        assert "Lucía" not in str(entry.changes) + entry.target_label, entry.action
        assert "Soria" not in str(entry.changes)
    # Orders stay: revenue, count and the figures are unchanged.
    assert _totals() == before_totals
    assert before_totals["n"] == 2 and before_totals["total"] == Decimal("200.50")
    insights_refresh(as_of=timezone.localdate())
    assert (
        CustomerMetrics.objects.filter(customer=lucia).values("revenue", "orders_count").get()
        == metrics_before
    )
    # The e-mail cannot come back; another person's can.
    assert is_suppressed("LUCIA@example.es ") and not is_suppressed("otra@example.es")
    assert SuppressedEmail.objects.get().email_hash != "lucia@example.es"
    assert report.suppressed and report.rows["activity.interaction"] == 1
    erased = AuditEntry.objects.get(action="erased")
    assert (erased.actor, erased.target_id) == (manager, lucia.pk)
    # Irreversible and done once.
    with pytest.raises(ValidationError):
        customer_erase(actor=manager, customer=lucia, confirmation=f"ERASE {lucia.pk}")
    other.refresh_from_db()
    assert other.first_name == "Otra"


def test_every_personal_field_of_every_linked_model_is_erased(manager, lucia):
    """Walk the field table: after erasure no erasable field of a row linked to Lucía holds its old value."""
    linked = {}
    for relation in Customer._meta.related_objects:
        if relation.field.concrete and not relation.many_to_many:
            model = relation.related_model
            rows = list(model._default_manager.filter(**{relation.field.name: lucia.pk}).values())
            if personal_fields(model._meta.label_lower):
                linked[model._meta.label_lower] = (model, relation.field.name, rows)
    assert {"activity.interaction", "activity.task", "privacy.privacyprofile"} <= set(linked)
    customer_erase(actor=manager, customer=lucia, confirmation=f"ERASE {lucia.pk}")
    for label, (model, fk, rows) in linked.items():
        after = {r["pk"] if "pk" in r else r[model._meta.pk.attname]: r
                 for r in model._default_manager.filter(**{fk: lucia.pk}).values()}  # fmt: skip
        for row in rows:
            key = row[model._meta.pk.attname]
            for name, how in personal_fields(label).items():
                assert how in ERASED
                if row[name] not in (None, "", {}):
                    assert after[key][name] != row[name], f"{label}.{name}"


def test_only_managers_with_the_typed_confirmation(owner, manager, lucia):
    with pytest.raises(PermissionDenied):
        customer_erase(actor=owner, customer=lucia, confirmation=f"ERASE {lucia.pk}")
    with pytest.raises(ValidationError):
        customer_erase(actor=manager, customer=lucia, confirmation="ERASE")
    lucia.refresh_from_db()
    assert lucia.first_name == "Lucía"


def test_erasure_from_the_web_page(client, owner, manager, lucia):
    url = reverse("privacy:erase", args=[lucia.pk])
    client.force_login(owner)
    assert client.get(url).status_code == 403
    assert client.post(url, {"reason": "erasure", "confirmation": f"BORRAR {lucia.pk}"}).status_code == 403
    client.force_login(manager)
    page = client.get(url, HTTP_ACCEPT_LANGUAGE="es")
    assert f"BORRAR {lucia.pk}" in page.content.decode()
    wrong = client.post(url, {"reason": "objection", "confirmation": "sí"})
    assert wrong.status_code == 422
    done = client.post(url, {"reason": "objection", "confirmation": f"borrar {lucia.pk}"})
    assert done.status_code == 302
    lucia.refresh_from_db()
    assert lucia.first_name == f"Anonymised #{lucia.pk}"
    assert SuppressedEmail.objects.get().reason == "objection"


def test_erasure_from_the_api_and_the_cli(client, manager, lucia, owner):
    from cartera.accounts.services import api_token_create

    _t, raw = api_token_create(user=owner, name="t")
    url = f"/api/customers/{lucia.pk}/erase"
    body = {"confirmation": f"ERASE {lucia.pk}"}
    assert client.post(url, body, content_type="application/json",
                       HTTP_AUTHORIZATION=f"Bearer {raw}").status_code == 403  # fmt: skip
    with pytest.raises(CommandError):
        call_command("privacy", "erase", str(lucia.pk), "--user", "manager", "--confirm", "nope")
    call_command("privacy", "erase", str(lucia.pk), "--user", "manager", "--confirm", f"ERASE {lucia.pk}")
    lucia.refresh_from_db()
    assert lucia.email is None
    second = Customer.objects.create(first_name="Eva", email="eva@example.es", owner=owner)
    _t, raw_m = api_token_create(user=manager, name="m")
    response = client.post(f"/api/customers/{second.pk}/erase", {"confirmation": f"ERASE {second.pk}"},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {raw_m}")  # fmt: skip
    assert response.status_code == 201, response.content
    assert response.json()["suppressed"] is True
    assert is_suppressed("eva@example.es")
    assert ConsentEvent.objects.filter(customer=second).count() == 0


def test_an_erasure_that_fails_at_its_last_step_changes_nothing(manager, lucia):
    """One transaction: a database failure on the very last write (the suppression list) leaves no
    half-anonymised person behind. The failure is a real trigger, created for this test only."""
    from django.db import DatabaseError, connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION test_fail() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'disk full'; END $$ "
                "LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER test_fail BEFORE INSERT ON privacy_suppressedemail "
                "FOR EACH ROW EXECUTE FUNCTION test_fail()"
            )
        else:
            cursor.execute(
                "CREATE TRIGGER test_fail BEFORE INSERT ON privacy_suppressedemail "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
    tables = (Customer, Interaction, Task, ConsentEvent, PrivacyProfile, AuditEntry, ImportRecord)
    before = {m: sorted(map(repr, m._default_manager.values_list())) for m in tables}
    tags_before = list(lucia.tags.values_list("name", flat=True))
    # No transaction of its own here: the erasure's own must undo everything.
    with pytest.raises(DatabaseError):
        customer_erase(actor=manager, customer=lucia, confirmation=f"ERASE {lucia.pk}")
    assert {m: sorted(map(repr, m._default_manager.values_list())) for m in tables} == before
    assert list(lucia.tags.values_list("name", flat=True)) == tags_before == ["VIP"]
