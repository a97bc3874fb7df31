"""The customer field table is the one list of a customer's fields: every consumer agrees with it, so a
field added to the model cannot be forgotten by the form, the API, the import or the segment builder."""

from __future__ import annotations

from cartera.customers.fields import BY_NAME, field_names
from cartera.customers.models import Customer


def test_every_field_of_the_model_is_in_the_table():
    model_fields = {
        f.name for f in Customer._meta.get_fields() if f.concrete or (f.many_to_many and not f.auto_created)
    } - {"id"}
    assert model_fields == set(BY_NAME), model_fields ^ set(BY_NAME)


def test_the_api_writes_exactly_the_editable_fields():
    from cartera.customers.api import CustomerIn

    assert set(CustomerIn.model_fields) == set(field_names(editable=True))


def test_the_form_edits_every_editable_field():
    from cartera.customers.forms import CustomerForm

    # company, tags and custom fields are typed by name ("company_name", "tag_names", "cf_<key>").
    by_other_names = {"company", "tags", "custom_fields"}
    assert set(CustomerForm.Meta.fields) == set(field_names(editable=True)) - by_other_names


def test_the_import_can_fill_every_importable_field():
    from cartera.imports.fields import FIELDS

    keys = {f.key for f in FIELDS["customers"]}
    # Custom fields are filled one column per admin-defined field ("cf:<key>", tests/imports/
    # test_import_custom_fields.py).
    renamed = {"company": "company_name"}
    importable = set(field_names(importable=True)) - {"custom_fields"}
    missing = {name for name in importable if renamed.get(name, name) not in keys}
    assert not missing, missing


def test_the_segment_builder_can_test_every_filterable_field():
    from cartera.segments.rules import FIELDS

    # Custom fields are tested one admin-defined field at a time ("cf:<key>", test_custom_fields.py).
    missing = set(field_names(filterable=True)) - set(FIELDS) - {"custom_fields"}
    assert not missing, missing


def test_labels_come_from_the_model():
    assert (
        BY_NAME["birth_date"].label == str(Customer._meta.get_field("birth_date").verbose_name).capitalize()
    )
