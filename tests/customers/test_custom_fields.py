"""Custom fields an admin adds in the app: managed on a settings page, edited on the customer form by
whom the field allows, shown on the customer page, and usable in the list filters, the segment
builder, the API (filter and write) and the export — all through the customer field table."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import translation

from cartera.customers.models import Customer, CustomField
from cartera.customers.services import custom_field_create, customer_create, customer_update
from tests.conftest import login

pytestmark = pytest.mark.django_db


# --- settings page ---------------------------------------------------------------------------------


def test_an_admin_adds_edits_and_deletes_a_field_in_the_app(client, admin_user):
    login(client, admin_user)
    page = client.get(reverse("customers:custom_fields"))
    assert page.status_code == 200
    response = client.post(
        reverse("customers:custom_field_create"),
        {"label": "Canal favorito", "key": "canal", "field_type": "choice", "choices": "Web\nTienda\n",
         "required": "", "editable_by": "everyone", "position": "1"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    field = CustomField.objects.get(key="canal")
    assert field.choice_list() == ["Web", "Tienda"] and not field.required
    assert "Canal favorito" in client.get(reverse("customers:custom_fields")).content.decode()
    # Key and type are fixed once made: a post that tries to change them does not.
    client.post(
        reverse("customers:custom_field_edit", args=[field.pk]),
        {"label": "Canal preferido", "key": "otro", "field_type": "text", "choices": "Web\nTienda\nTeléfono",
         "required": "on", "editable_by": "admins", "position": "1"},
    )  # fmt: skip
    field.refresh_from_db()
    assert (field.key, field.field_type, field.label) == ("canal", "choice", "Canal preferido")
    assert field.required and field.editable_by == "admins" and "Teléfono" in field.choice_list()
    client.post(reverse("customers:custom_field_delete", args=[field.pk]))
    assert not CustomField.objects.filter(pk=field.pk).exists()


def test_a_choice_field_without_choices_is_refused_in_spanish(client, admin_user):
    login(client, admin_user)
    with translation.override("es"):
        response = client.post(
            reverse("customers:custom_field_create"),
            {"label": "Canal", "key": "canal", "field_type": "choice", "choices": "", "editable_by": "everyone",
             "position": "0"},
            HTTP_ACCEPT_LANGUAGE="es",
        )  # fmt: skip
    assert response.status_code == 200
    assert "al menos una opción" in response.content.decode()
    assert not CustomField.objects.exists()


@pytest.mark.parametrize("who", ["owner", "manager"])
def test_only_admins_manage_fields(client, request, who, admin_user):
    user = request.getfixturevalue(who)
    login(client, user)
    assert client.get(reverse("customers:custom_fields")).status_code == 403
    assert client.post(reverse("customers:custom_field_create"), {"label": "X", "key": "x",
                       "field_type": "text", "editable_by": "everyone", "position": 0}).status_code == 403  # fmt: skip
    field = custom_field_create(actor=admin_user, key="x", field_type="text", fields={"label": "X"})
    assert client.post(reverse("customers:custom_field_delete", args=[field.pk])).status_code == 404
    with pytest.raises(PermissionDenied):
        custom_field_create(actor=user, key="y", field_type="text", fields={"label": "Y"})
    assert list(CustomField.objects.values_list("key", flat=True)) == ["x"]


# --- values: form, rights, customer page ---------------------------------------------------------


def test_values_are_read_as_their_type_and_shown_in_the_users_language(client, owner, custom_people):
    ana, bea = custom_people["ana"], custom_people["bea"]
    assert ana.custom_fields == {"shoe": "38", "vip_since": "2020-05-01", "club": True, "store": "Centro",
                                 "hobby": "Vela y golf"}  # fmt: skip
    assert bea.custom_fields["shoe"] == "41.5"
    login(client, owner)
    page = client.get(reverse("customers:detail", args=[ana.pk]), HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Tienda habitual" in page and "Centro" in page and "01/05/2020" in page and "Sí" in page


def test_who_may_edit_is_enforced_by_the_form_and_the_service(client, owner, manager, custom_people):
    ana = custom_people["ana"]
    login(client, owner)
    form_page = client.get(reverse("customers:edit", args=[ana.pk])).content.decode()
    assert 'name="cf_club"' in form_page and "disabled" in form_page.split('name="cf_club"')[1][:80]
    # The owner edits her customer; the club value (not hers to change) stays as stored.
    response = client.post(
        reverse("customers:edit", args=[ana.pk]),
        {"first_name": "Ana", "stage": "prospect", "country": "ES", "cf_shoe": "39", "cf_store": "Sur",
         "cf_club": ""},
    )  # fmt: skip
    assert response.status_code == 302
    ana.refresh_from_db()
    assert ana.custom_fields["shoe"] == "39" and ana.custom_fields["club"] is True
    with pytest.raises(ValidationError) as refused:
        customer_update(
            actor=owner, customer=ana, fields={"custom_fields": {**ana.custom_fields, "club": False}}
        )
    assert "Tarjeta club" in str(refused.value)
    ana.refresh_from_db()
    assert ana.custom_fields["club"] is True
    customer_update(
        actor=manager, customer=ana, fields={"custom_fields": {**ana.custom_fields, "club": False}}
    )
    ana.refresh_from_db()
    assert ana.custom_fields["club"] is False


def test_wrong_values_are_refused_with_the_fields_name(owner, custom_field_set):
    with pytest.raises(ValidationError) as refused:
        customer_create(
            actor=owner, fields={"first_name": "X", "custom_fields": {"shoe": "grande", "store": "Este"}}
        )
    text = str(refused.value)
    assert "Talla" in text and "Tienda habitual" in text
    assert not Customer.objects.exists()


# --- segment builder ------------------------------------------------------------------------------


def _matching(definition, user):
    from cartera.segments.rules import definition_clean, to_q

    clean = definition_clean(definition)
    return sorted(Customer.objects.filter(to_q(clean, user=user)).values_list("first_name", flat=True))


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"field": "cf:shoe", "op": "gt", "value": "39"}, ["Bea"]),
        ({"field": "cf:shoe", "op": "lte", "value": "38"}, ["Ana"]),
        ({"field": "cf:shoe", "op": "between", "value": ["9", "40"]}, ["Ana"]),  # numbers, not text
        ({"field": "cf:shoe", "op": "empty"}, ["Eva"]),
        ({"field": "cf:vip_since", "op": "before", "value": "2023-01-01"}, ["Ana"]),
        ({"field": "cf:club", "op": "true"}, ["Ana"]),
        ({"field": "cf:club", "op": "false"}, ["Bea", "Eva"]),
        ({"field": "cf:store", "op": "in", "value": ["Norte", "Sur"]}, ["Bea"]),
        ({"field": "cf:store", "op": "not_in", "value": ["Norte"]}, ["Ana", "Eva"]),
        ({"field": "cf:hobby", "op": "contains", "value": "GOLF"}, ["Ana"]),
        ({"field": "cf:hobby", "op": "not_empty"}, ["Ana"]),
    ],
)
def test_the_segment_builder_tests_custom_fields(owner, custom_people, rule, expected):
    assert _matching({"groups": [{"rules": [rule]}]}, owner) == expected


def test_the_segment_builder_refuses_wrong_custom_values_and_unknown_fields(custom_people):
    from cartera.segments.rules import definition_clean, describe

    with pytest.raises(ValidationError, match="Talla"):
        definition_clean({"groups": [{"rules": [{"field": "cf:shoe", "op": "gt", "value": "abc"}]}]})
    with pytest.raises(ValidationError):
        definition_clean({"groups": [{"rules": [{"field": "cf:store", "op": "in", "value": ["Este"]}]}]})
    with pytest.raises(ValidationError):
        definition_clean({"groups": [{"rules": [{"field": "cf:nope", "op": "empty"}]}]})
    clean = definition_clean({"groups": [{"rules": [{"field": "cf:store", "op": "in", "value": ["Sur"]}]}]})
    with translation.override("es"):
        assert describe(clean) == "Tienda habitual es uno de Sur"


def test_the_builder_page_offers_custom_fields(client, owner, custom_people):
    login(client, owner)
    page = client.get(reverse("segments:new")).content.decode()
    assert 'value="cf:store"' in page and "Tienda habitual" in page


# --- list filters, export, API --------------------------------------------------------------------


def test_the_customer_list_filters_by_custom_fields(client, owner, custom_people):
    login(client, owner)
    page = client.get(reverse("customers:list"), {"cf_store": "Norte"}).content.decode()
    assert "Bea" in page and ">Ana<" not in page
    page = client.get(reverse("customers:list"), {"cf_club": "yes"}).content.decode()
    assert ">Ana<" in page and ">Bea<" not in page
    page = client.get(
        reverse("customers:list"), {"cf_shoe": "mucho"}, HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "no es un valor válido para Talla" in page


def test_the_export_has_a_column_per_custom_field(client, manager, custom_people):
    login(client, manager)
    response = client.get(reverse("imports:export_customers", args=["csv"]), {"cf_store": "Centro"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    header, data = rows[0], rows[1:]
    assert header[-5:] == ["Talla", "VIP desde", "Tarjeta club", "Tienda habitual", "Aficiones"]
    assert len(data) == 1 and data[0][1] == "Ana"  # after the customer reference
    assert data[0][-5:] == ["38.00", "2020-05-01", "Sí", "Centro", "Vela y golf"]
