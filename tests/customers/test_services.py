import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cartera.customers.models import Customer, Stage
from cartera.customers.services import DuplicateCustomerError, customer_create, customer_update
from cartera.sales.services import order_create


def test_create_normalizes_email_phone_and_search_keys(customer):
    customer.refresh_from_db()
    assert customer.email == "lucia@example.es"
    assert customer.phone == "+34612345678"
    assert customer.first_name_key == "lucia"
    assert customer.last_name_key == "martinez ortega"
    assert customer.stage == Stage.PROSPECT


def test_duplicate_email_is_case_insensitive_and_names_the_existing_customer(customer, owner):
    with pytest.raises(DuplicateCustomerError) as info:
        customer_create(actor=owner, fields={"first_name": "Otra", "email": "LUCIA@example.ES"})
    assert info.value.existing == customer
    assert Customer.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("phone", "12"), ("phone", "abc"), ("first_name", "")],
)
def test_invalid_fields_are_refused_and_nothing_is_saved(owner, field, value):
    fields = {"first_name": "Ana", field: value}
    with pytest.raises(ValidationError) as info:
        customer_create(actor=owner, fields=fields)
    assert field in info.value.message_dict
    assert Customer.objects.count() == 0


def test_first_order_makes_a_prospect_a_customer(customer, owner):
    order_create(actor=owner, customer=customer, fields={"ordered_on": "2026-01-05", "amount": "19.90"})
    customer.refresh_from_db()
    assert customer.stage == Stage.CUSTOMER


def test_sales_rep_cannot_give_a_customer_away(customer, owner, colleague):
    with pytest.raises(PermissionDenied):
        customer_update(actor=owner, customer=customer, fields={"owner": colleague})
    customer.refresh_from_db()
    assert customer.owner == owner


def test_manager_can_reassign(customer, manager, colleague):
    customer_update(actor=manager, customer=customer, fields={"owner": colleague})
    customer.refresh_from_db()
    assert customer.owner == colleague
