"""Orders through the REST API."""

import datetime
from decimal import Decimal

import pytest

from cartera.customers.models import Stage
from cartera.sales.models import Order
from cartera.sales.services import order_create


def test_order_crud(owner, owner_api, manager_api, customer):
    created = owner_api.post(
        "/api/orders",
        {
            "customer": customer.pk,
            "ordered_on": "2026-01-05",
            "amount": "149.95",
            "channel": "web",
            "currency": "eur",
        },
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["amount"] == "149.95"
    assert body["currency"] == "EUR"
    assert body["created_by"] == owner.pk
    order = Order.objects.get(pk=body["id"])
    assert order.amount == Decimal("149.95")
    customer.refresh_from_db()
    assert customer.stage == Stage.CUSTOMER  # the first purchase makes them a customer

    assert owner_api.get(f"/api/orders/{order.pk}").json()["ordered_on"] == "2026-01-05"
    patched = owner_api.patch(f"/api/orders/{order.pk}", {"amount": 99.5, "category": "vino"})
    assert patched.status_code == 200, patched.content
    order.refresh_from_db()
    assert (order.amount, order.category, order.channel) == (Decimal("99.50"), "vino", "web")

    assert manager_api.delete(f"/api/orders/{order.pk}").status_code == 204
    assert not Order.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "-1"),
        ("amount", "diez"),
        ("amount", "1.999"),
        ("amount", "12345678901.00"),
        ("ordered_on", "2026-02-30"),
        ("ordered_on", "05/01/2026"),
        ("channel", "fax"),
        ("currency", "ZZZ"),
        ("currency", "$"),
    ],
)
def test_invalid_orders_are_422_and_nothing_is_saved(owner_api, customer, field, value):
    payload = {"customer": customer.pk, "ordered_on": "2026-01-05", "amount": "10.00", field: value}
    response = owner_api.post("/api/orders", payload)
    assert response.status_code == 422, response.content
    assert response.json()["detail"][0]["loc"][-1] == field
    assert not Order.objects.exists()
    customer.refresh_from_db()
    assert customer.stage == Stage.PROSPECT


def test_an_external_reference_is_unique_per_source(owner_api, customer):
    payload = {"customer": customer.pk, "ordered_on": "2026-01-05", "amount": "10", "external_ref": "A-1"}
    assert owner_api.post("/api/orders", payload).status_code == 201
    again = owner_api.post("/api/orders", payload)
    assert again.status_code == 422
    assert Order.objects.count() == 1
    assert owner_api.post("/api/orders", payload | {"source": "shop"}).status_code == 201


def test_order_list_filters_and_pages(owner, owner_api, customer, make_customers):
    other = make_customers(1)[0]
    days = [datetime.date(2026, 1, d) for d in (3, 10, 10, 20, 28)]
    made = [
        order_create(
            actor=owner,
            customer=customer if i < 3 else other,
            fields={"ordered_on": day, "amount": Decimal(i)},
        )
        for i, day in enumerate(days)
    ]
    newest_first = [made[4].pk, made[3].pk, made[2].pk, made[1].pk, made[0].pk]

    def ids(**params):
        response = owner_api.get("/api/orders", params)
        assert response.status_code == 200, response.content
        return [x["id"] for x in response.json()["items"]]

    assert ids() == newest_first
    assert ids(customer=customer.pk) == [made[2].pk, made[1].pk, made[0].pk]
    assert ids(date_from="2026-01-10", date_to="2026-01-20") == [made[3].pk, made[2].pk, made[1].pk]
    assert ids(date_from="2026-01-21") == [made[4].pk]
    seen, cursor = [], None
    while True:
        body = owner_api.get("/api/orders", {"limit": 2} | ({"cursor": cursor} if cursor else {})).json()
        seen += [x["id"] for x in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen == newest_first


def test_a_bad_date_filter_is_422(owner_api):
    response = owner_api.get("/api/orders", {"date_from": "ayer"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "date_from"]


def test_an_order_without_a_currency_is_in_the_base_currency(settings, owner_api, customer):
    """Issue 11: no hard-coded euros. With the base currency set to GBP, an order posted without a
    currency is stored in pounds, and the OpenAPI document gives that default and names the setting."""
    settings.CARTERA_DEFAULT_CURRENCY = "GBP"
    created = owner_api.post(
        "/api/orders", {"customer": customer.pk, "ordered_on": "2026-01-05", "amount": "10"}
    )
    assert created.status_code == 201, created.content
    assert created.json()["currency"] == "GBP"
    assert Order.objects.get(pk=created.json()["id"]).currency == "GBP"
    # The model's own default follows the setting too: a path that forgets the currency writes no EUR.
    assert Order(customer=customer, ordered_on=datetime.date(2026, 1, 6), amount=1).currency == "GBP"
    schema = owner_api.get("/api/openapi.json").json()["components"]["schemas"]["OrderIn"]
    currency = schema["properties"]["currency"]
    assert currency["default"] == "GBP"
    assert "CARTERA_DEFAULT_CURRENCY" in currency["description"]
    assert "currency" not in schema.get("required", [])


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("es", "«ZZZ» no es un código de moneda (ISO 4217, tres letras como EUR, USD o GBP)"),
        ("en", "“ZZZ” is not a currency code (ISO 4217, three letters such as EUR, USD or GBP)"),
    ],
)
def test_a_bad_currency_is_a_422_that_says_why_in_the_callers_language(
    owner_api, customer, language, message
):
    payload = {"customer": customer.pk, "ordered_on": "2026-01-05", "amount": "10", "currency": "ZZZ"}
    response = owner_api.post("/api/orders", payload, headers={"Accept-Language": language})
    assert response.status_code == 422, response.content  # declared: the client checks every status
    [error] = [e for e in response.json()["detail"] if e["loc"][-1] == "currency"]
    assert error["msg"] == message
    assert not Order.objects.exists()
