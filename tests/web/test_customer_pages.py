"""The customer pages through Django's test client: real views, templates, services and database."""

from __future__ import annotations

import pytest
from django.conf import settings as settings_module
from django.urls import reverse

from cartera.activity.models import Interaction, Task
from cartera.customers.models import Customer, Stage
from cartera.sales.models import Order


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


def test_login_page_and_redirect_for_anonymous(client, db):
    response = client.get(reverse("customers:list"))
    assert response.status_code == 302
    assert reverse("accounts:login") in response["Location"]
    assert client.get(reverse("accounts:login")).status_code == 200


def test_login_with_password(client, owner):
    response = client.post(reverse("accounts:login"), {"username": "owner", "password": "s3cret-pass-123"})
    assert response.status_code == 302
    assert client.get(reverse("web:home")).status_code == 200


@pytest.mark.parametrize(
    "query", ["lucía", "LUCIA", "martinez", "Lucia Martinez", "lucia@ex", "612345678", "+34 612"]
)
def test_search_finds_by_name_email_and_phone(owner_client, customer, query):
    response = owner_client.get(reverse("customers:list"), {"q": query})
    assert response.status_code == 200
    assert "Lucía Martínez Ortega" in response.content.decode()


@pytest.mark.parametrize(
    "query", ["María José García", "maria jose garcia lop", "García López María", "garcia lopez maria jose"]
)
def test_search_compound_first_name_and_surname_first(owner_client, owner, query):
    from cartera.customers.services import customer_create

    customer_create(actor=owner, fields={"first_name": "María José", "last_name": "García López"})
    customer_create(actor=owner, fields={"first_name": "María", "last_name": "Pérez García"})
    page = owner_client.get(reverse("customers:list"), {"q": query}).context["page"]
    assert [c.full_name for c in page.rows] == ["María José García López"]


def test_search_matching_more_than_the_resolve_limit_still_sorts_and_counts(owner_client, owner, monkeypatch):
    from cartera.customers import selectors
    from cartera.customers.services import customer_create

    monkeypatch.setattr(selectors, "SEARCH_RESOLVE_LIMIT", 5)
    made = [
        customer_create(actor=owner, fields={"first_name": f"Ana{i}", "last_name": "Ruiz"}).pk
        for i in range(12)
    ]
    customer_create(actor=owner, fields={"first_name": "Otro", "last_name": "Nombre"})
    for sort, expected in (("newest", sorted(made, reverse=True)), ("oldest", sorted(made))):
        response = owner_client.get(reverse("customers:list"), {"q": "ruiz", "sort": sort})
        assert [c.pk for c in response.context["page"].rows] == expected
        assert response.context["total"] == 12


def test_tag_filter_lists_each_member_once_newest_first(owner_client, owner):
    from cartera.customers.models import Tag
    from cartera.customers.services import customer_create

    vip, other = Tag.objects.create(name="VIP"), Tag.objects.create(name="Otro")
    tagged = []
    for i in range(4):
        c = customer_create(actor=owner, fields={"first_name": f"T{i}"})
        c.tags.add(vip, other)
        tagged.append(c.pk)
    customer_create(actor=owner, fields={"first_name": "Sin etiqueta"})
    page = owner_client.get(reverse("customers:list"), {"tag": vip.pk}).context["page"]
    assert [c.pk for c in page.rows] == sorted(tagged, reverse=True)


def test_search_by_company(owner_client, owner):
    from cartera.customers.services import customer_create

    customer_create(actor=owner, fields={"first_name": "Pepe", "company_name": "Ferretería Núñez"})
    body = owner_client.get(reverse("customers:list"), {"q": "ferreteria"}).content.decode()
    assert "Pepe" in body


def test_search_miss(owner_client, customer):
    body = owner_client.get(reverse("customers:list"), {"q": "zzz"}).content.decode()
    assert "Lucía" not in body


def test_list_filters_and_keyset_pages(owner_client, owner):
    from cartera.customers.services import customer_create

    for i in range(120):
        customer_create(
            actor=owner,
            fields={"first_name": f"Cliente{i:03d}", "stage": Stage.CUSTOMER if i % 2 else Stage.PROSPECT},
        )
    first = owner_client.get(reverse("customers:list"), {"stage": "customer", "sort": "name"})
    page = first.context["page"]
    assert len(page.rows) == 50 and first.context["total"] == 60
    assert [c.first_name for c in page.rows][:2] == ["Cliente001", "Cliente003"]
    second = owner_client.get(
        reverse("customers:list"), {"stage": "customer", "sort": "name", "cursor": page.next_cursor}
    )
    rows2 = second.context["page"].rows
    assert rows2[0].first_name == "Cliente101"
    back = owner_client.get(
        reverse("customers:list"),
        {
            "stage": "customer",
            "sort": "name",
            "cursor": second.context["page"].previous_cursor,
            "dir": "prev",
        },
    )
    assert [c.pk for c in back.context["page"].rows] == [c.pk for c in page.rows]


def test_list_query_count_does_not_grow_with_rows(owner_client, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cartera.customers.services import customer_create

    def queries_for_list() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(reverse("customers:list")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        customer_create(actor=owner, fields={"first_name": f"N{i}", "company_name": f"Empresa {i}"})
    few = queries_for_list()
    for i in range(3, 60):
        customer_create(actor=owner, fields={"first_name": f"N{i}", "company_name": f"Empresa {i}"})
    # 12: the filters on admin-defined custom fields read their definitions, and the header's badge
    # counts the tasks colleagues gave you (one query each).
    assert queries_for_list() == few <= 12


def test_create_customer_with_field_errors_saves_nothing(owner_client):
    response = owner_client.post(
        reverse("customers:create"),
        {
            "first_name": "Ana",
            "email": "ana@",
            "phone": "123",
            "birth_date": "31/31/2020",
            "country": "ES",
            "stage": "prospect",
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"email", "phone", "birth_date"}
    assert Customer.objects.count() == 0


def test_duplicate_email_links_the_existing_customer(owner_client, customer):
    response = owner_client.post(
        reverse("customers:create"),
        {"first_name": "Otra", "email": "LUCIA@example.es", "country": "ES", "stage": "prospect"},
    )
    body = response.content.decode()
    assert reverse("customers:detail", args=[customer.pk]) in body
    assert Customer.objects.count() == 1


def test_create_and_edit_customer(owner_client, owner):
    response = owner_client.post(
        reverse("customers:create"),
        {
            "first_name": "Ana",
            "last_name": "Gómez",
            "email": "ana@gomez.es",
            "phone": "+34 699 111 222",
            "stage": "prospect",
            "country": "ES",
            "company_name": "Gómez SL",
            "tag_names": "VIP, feria",
        },
    )
    assert response.status_code == 302
    ana = Customer.objects.get(email="ana@gomez.es")
    assert ana.phone == "+34699111222" and ana.company.name == "Gómez SL" and ana.owner == owner
    assert sorted(t.name for t in ana.tags.all()) == ["VIP", "feria"]
    response = owner_client.post(
        reverse("customers:edit", args=[ana.pk]),
        {
            "first_name": "Ana María",
            "last_name": "Gómez",
            "email": "ana@gomez.es",
            "stage": "customer",
            "country": "ES",
        },
    )
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.first_name == "Ana María" and ana.first_name_key == "ana maria"


def test_quick_forms_write_to_the_timeline(owner_client, customer, owner):
    url = reverse("activity:interaction_create", args=[customer.pk])
    response = owner_client.post(url, {"kind": "call", "direction": "outbound", "occurred_at": "2026-11-20T10:30",
                                       "subject": "<b>Llamada</b>", "body": "Interesada"}, headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="timeline"' in body and "&lt;b&gt;Llamada&lt;/b&gt;" in body
    response = owner_client.post(
        reverse("sales:order_create", args=[customer.pk]),
        {"ordered_on": "2026-11-21", "amount": "49.90", "currency": "EUR", "channel": "web"},
    )
    assert response.status_code == 302
    response = owner_client.post(
        reverse("activity:task_create", args=[customer.pk]),
        {"title": "Volver a llamar", "due_at": "2026-11-25T09:00"},
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.stage == Stage.CUSTOMER
    assert Interaction.objects.get().author == owner
    assert Task.objects.get().assignee == owner
    detail = owner_client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert "Volver a llamar" in detail and "49.90" in detail.replace(",", ".")


def test_quick_form_errors_come_back_to_htmx_and_save_nothing(owner_client, customer):
    response = owner_client.post(
        reverse("sales:order_create", args=[customer.pk]),
        {"ordered_on": "mañana", "amount": "-5", "currency": "EUR"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert set(response.context["order_form"].errors) >= {"ordered_on", "amount"}
    assert Order.objects.count() == 0


def test_my_tasks_highlights_overdue(owner_client, owner, customer):
    from django.utils import timezone

    from cartera.activity.services import task_create

    task_create(
        actor=owner,
        fields={
            "title": "Atrasada",
            "due_at": timezone.now() - timezone.timedelta(days=2),
            "customer": customer,
        },
    )
    task_create(
        actor=owner, fields={"title": "Futura", "due_at": timezone.now() + timezone.timedelta(days=2)}
    )
    body = owner_client.get(reverse("activity:my_tasks")).content.decode()
    assert "Atrasada" in body and "Futura" in body
    assert body.count("task overdue") == 1


def test_task_toggle(owner_client, owner):
    from django.utils import timezone

    from cartera.activity.services import task_create

    task = task_create(actor=owner, fields={"title": "Hecha", "due_at": timezone.now()})
    owner_client.post(reverse("activity:task_toggle", args=[task.pk]), headers={"HX-Request": "true"})
    task.refresh_from_db()
    assert task.done and task.done_at


def test_pages_render_in_english_and_spanish(owner_client, customer):
    owner_client.cookies["django_language"] = "es"
    assert "Clientes" in owner_client.get(reverse("customers:list")).content.decode()
    owner_client.cookies["django_language"] = "en"
    assert "Customers" in owner_client.get(reverse("customers:list")).content.decode()


def test_oversized_request_is_refused(owner_client, settings, customer):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = owner_client.post(
        reverse("activity:interaction_create", args=[customer.pk]), {"kind": "note", "body": "x" * 20_000}
    )
    assert response.status_code == 400
    assert Interaction.objects.count() == 0


def test_company_pages(owner_client, manager, client):
    response = owner_client.post(
        reverse("customers:company_create"), {"name": "Acme Ibérica", "tax_id": "b-12345678"}
    )
    assert response.status_code == 302
    from cartera.customers.models import Company

    company = Company.objects.get()
    assert company.tax_id == "B12345678"
    assert owner_client.get(reverse("customers:company_detail", args=[company.pk])).status_code == 200
    response = owner_client.post(reverse("customers:company_create"), {"name": "Otra", "tax_id": "B12345678"})
    assert "tax_id" in response.context["form"].errors


def test_admin_defined_custom_fields_are_typed(owner_client, db):
    from cartera.customers.models import CustomField

    CustomField.objects.create(key="shoe_size", label="Talla", field_type="number")
    CustomField.objects.create(key="vip_since", label="VIP desde", field_type="date")
    CustomField.objects.create(key="segment", label="Segmento", field_type="choice", choices="oro\nplata")
    base = {"first_name": "Eva", "country": "ES", "stage": "prospect"}
    response = owner_client.post(
        reverse("customers:create"),
        {**base, "cf_shoe_size": "cuarenta", "cf_vip_since": "2024-13-01", "cf_segment": "bronce"},
    )
    assert response.status_code == 200
    assert {"cf_shoe_size", "cf_vip_since", "cf_segment"} <= set(response.context["form"].errors)
    assert not Customer.objects.exists()
    response = owner_client.post(
        reverse("customers:create"),
        {**base, "cf_shoe_size": "39,5", "cf_vip_since": "2024-03-01", "cf_segment": "oro"},
    )
    assert response.status_code == 302
    eva = Customer.objects.get()
    assert eva.custom_fields == {"shoe_size": "39.5", "vip_since": "2024-03-01", "segment": "oro"}
    body = owner_client.get(reverse("customers:detail", args=[eva.pk])).content.decode()
    assert "VIP desde" in body and "oro" in body


@pytest.mark.skipif(
    not settings_module.DATABASES["default"]["ENGINE"].endswith("sqlite3"), reason="SQLite settings only"
)
def test_sqlite_is_set_up_for_several_writers(db, tmp_path, settings):
    from django.db.backends.sqlite3.base import DatabaseWrapper

    config = {**settings.DATABASES["default"], "NAME": str(tmp_path / "wal.sqlite3")}
    wrapper = DatabaseWrapper(config, alias="wal_check")
    try:
        with wrapper.cursor() as cursor:
            assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 20000
            assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert wrapper.transaction_mode == "IMMEDIATE"
    finally:
        wrapper.close()


def test_first_order_updates_the_stage_badge_in_place(owner_client, customer):
    response = owner_client.post(
        reverse("sales:order_create", args=[customer.pk]),
        {"ordered_on": "2026-11-21", "amount": "10", "currency": "EUR"},
        headers={"HX-Request": "true"},
    )
    body = response.content.decode()
    assert 'id="stage-badge"' in body and 'hx-swap-oob="true"' in body and "stage-customer" in body


def test_big_lists_say_more_than_instead_of_counting_everything(owner_client, owner, monkeypatch):
    from cartera.customers import views
    from cartera.customers.services import customer_create

    monkeypatch.setattr(views, "COUNT_CAP", 5)
    for i in range(7):
        customer_create(actor=owner, fields={"first_name": f"C{i}"})
    owner_client.cookies["django_language"] = "en"
    response = owner_client.get(reverse("customers:list"))
    assert response.context["total"] == 5 and response.context["more_than_total"]
    assert "More than 5 customers" in response.content.decode()
    assert not owner_client.get(reverse("customers:list"), {"q": "C1"}).context["more_than_total"]
