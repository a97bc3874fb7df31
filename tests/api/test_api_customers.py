"""Customers, companies and tags through the REST API."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartera.customers.models import Company, Customer, CustomField, Stage, Tag

# --- create, read, update, delete -----------------------------------------------------------------


def test_create_normalises_and_returns_the_customer(owner, owner_api, company):
    response = owner_api.post(
        "/api/customers",
        {
            "first_name": " Ana ",
            "last_name": "García",
            "email": "Ana.Garcia@Example.ES",
            "phone": "612 34 56 79",
            "company": company.pk,
            "source": "referral",
            "birth_date": "1985-03-02",
            "tags": ["VIP", "feria 2026"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["first_name"] == "Ana"
    assert body["email"] == "ana.garcia@example.es"
    assert body["phone"] == "+34612345679"
    assert body["company"] == company.pk
    assert body["owner"] == owner.pk  # the creator owns it
    assert body["stage"] == "prospect"
    assert sorted(body["tags"]) == ["VIP", "feria 2026"]
    saved = Customer.objects.get(pk=body["id"])
    assert saved.email == "ana.garcia@example.es"
    assert saved.first_name_key == "ana"
    assert sorted(t.name for t in saved.tags.all()) == ["VIP", "feria 2026"]


def test_retrieve(owner_api, customer):
    response = owner_api.get(f"/api/customers/{customer.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == customer.pk
    assert body["full_name"] == "Lucía Martínez Ortega"
    assert body["phone"] == "+34612345678"
    assert body["tags"] == []


def test_retrieve_unknown_is_404(owner_api):
    response = owner_api.get("/api/customers/999999")
    assert response.status_code == 404
    assert set(response.json()) == {"detail"}


def test_patch_changes_only_the_fields_sent(owner_api, customer):
    response = owner_api.patch(f"/api/customers/{customer.pk}", {"city": "Bilbao", "tags": ["VIP"]})
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.city == "Bilbao"
    assert customer.email == "lucia@example.es"
    assert [t.name for t in customer.tags.all()] == ["VIP"]
    # without "tags", the tags stay
    owner_api.patch(f"/api/customers/{customer.pk}", {"stage": "customer"})
    customer.refresh_from_db()
    assert customer.stage == Stage.CUSTOMER
    assert [t.name for t in customer.tags.all()] == ["VIP"]


def test_patch_can_clear_the_company(owner_api, customer, company):
    owner_api.patch(f"/api/customers/{customer.pk}", {"company": company.pk})
    customer.refresh_from_db()
    assert customer.company == company
    assert owner_api.patch(f"/api/customers/{customer.pk}", {"company": None}).status_code == 200
    customer.refresh_from_db()
    assert customer.company is None


def test_manager_deletes_a_customer(manager_api, customer, order):
    response = manager_api.delete(f"/api/customers/{customer.pk}")
    assert response.status_code == 204
    assert response.content == b""
    assert not Customer.objects.exists()


def test_manager_may_give_a_customer_to_someone_else(manager_api, customer, colleague):
    response = manager_api.patch(f"/api/customers/{customer.pk}", {"owner": colleague.pk})
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.owner == colleague


def test_custom_fields_are_checked_against_their_definitions(owner_api, customer):
    CustomField.objects.create(key="shoe_size", label="Shoe size", field_type="number")
    ok = owner_api.patch(f"/api/customers/{customer.pk}", {"custom_fields": {"shoe_size": "42,5"}})
    assert ok.status_code == 200
    assert ok.json()["custom_fields"] == {"shoe_size": "42.5"}
    bad = owner_api.patch(f"/api/customers/{customer.pk}", {"custom_fields": {"shoe_size": "big"}})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][-1] == "custom_fields"


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-email"),
        ("phone", "12"),
        ("phone", "abc"),
        ("birth_date", "1985-02-30"),
        ("birth_date", "ayer"),
        ("stage", "vip"),
        ("first_name", ""),
        ("country", "ESP"),
    ],
)
def test_invalid_fields_are_422_with_a_field_message_and_nothing_is_saved(
    owner_api, db_snapshot, field, value
):
    before = db_snapshot()
    response = owner_api.post("/api/customers", {"first_name": "Ana", field: value, "tags": ["nueva"]})
    assert response.status_code == 422, response.content
    detail = response.json()["detail"]
    assert [e["loc"][-1] for e in detail] == [field]
    assert detail[0]["msg"]
    assert db_snapshot() == before  # not even the tag


def test_several_invalid_fields_are_all_reported(owner_api):
    response = owner_api.post("/api/customers", {"first_name": "Ana", "email": "x@", "phone": "12"})
    assert response.status_code == 422
    assert {e["loc"][-1] for e in response.json()["detail"]} == {"email", "phone"}


def test_a_missing_required_field_is_422(owner_api):
    response = owner_api.post("/api/customers", {"last_name": "Sin nombre"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "first_name"]


def test_invalid_patch_leaves_the_customer_unchanged(owner_api, customer, db_snapshot):
    before = db_snapshot()
    response = owner_api.patch(f"/api/customers/{customer.pk}", {"city": "Vigo", "email": "nope"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "email"]
    assert db_snapshot() == before


def test_unknown_company_or_owner_is_a_field_error(manager_api):
    response = manager_api.post("/api/customers", {"first_name": "Ana", "company": 999999})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "company"]
    response = manager_api.post("/api/customers", {"first_name": "Ana", "owner": 999999})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "payload", "owner"]
    assert not Customer.objects.exists()


@pytest.mark.parametrize(
    "payload", [{"first_name": "Ana", "emial": "a@b.es"}, {"first_name": "Ana", "id": 7}]
)
def test_unknown_or_read_only_fields_are_422_not_ignored(owner_api, customer, payload):
    response = owner_api.post("/api/customers", payload)
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"
    response = owner_api.patch(f"/api/customers/{customer.pk}", payload)
    assert response.status_code == 422
    assert Customer.objects.count() == 1


def test_malformed_json_is_refused(owner_api):
    response = owner_api.client.post(
        "/api/customers",
        "{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {owner_api.token}"},
    )
    assert response.status_code in (400, 422)
    assert not Customer.objects.exists()


def test_an_oversized_request_is_413_and_nothing_is_saved(owner_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = owner_api.post("/api/customers", {"first_name": "Ana", "notes": "x" * 20_000})
    assert response.status_code == 413
    assert not Customer.objects.exists()


def test_a_duplicate_email_names_the_existing_customer(owner_api, customer, db_snapshot):
    before = db_snapshot()
    response = owner_api.post("/api/customers", {"first_name": "Otra", "email": "LUCIA@example.ES"})
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "payload", "email"]
    assert error["type"] == "duplicate_email"
    assert error["existing_id"] == customer.pk
    assert "Lucía Martínez Ortega" in error["msg"]
    assert "<" not in error["msg"]  # the web UI's link is stripped for JSON
    assert db_snapshot() == before

    other = owner_api.post("/api/customers", {"first_name": "Otra", "email": "otra@example.es"}).json()
    before = db_snapshot()
    response = owner_api.patch(
        f"/api/customers/{other['id']}", {"email": "lucia@EXAMPLE.es", "city": "Ávila"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["existing_id"] == customer.pk
    assert db_snapshot() == before


# --- lists: filters, sorting, pagination, query count ---------------------------------------------


def test_list_pages_through_every_customer_once(owner_api, make_customers):
    made = make_customers(7)
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        body = owner_api.get("/api/customers", params).json()
        seen += [c["id"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == sorted((c.pk for c in made), reverse=True)  # newest first


def test_list_sorted_by_name(owner_api, make_customers):
    make_customers(1, first_name="Zoe", last_name="Abad")
    make_customers(1, first_name="Ana", last_name="Zubiri")
    make_customers(1, first_name="Bea", last_name="Moreno")
    body = owner_api.get("/api/customers", {"sort": "name"}).json()
    assert [c["last_name"] for c in body["items"]] == ["Abad", "Moreno", "Zubiri"]
    body = owner_api.get("/api/customers", {"sort": "-name", "limit": 2}).json()
    assert [c["last_name"] for c in body["items"]] == ["Zubiri", "Moreno"]
    rest = owner_api.get("/api/customers", {"sort": "-name", "cursor": body["next_cursor"]}).json()
    assert [c["last_name"] for c in rest["items"]] == ["Abad"]


def test_list_filters(owner_api, owner, colleague, make_customers, company):
    vip = Tag.objects.create(name="VIP")
    a = make_customers(
        1, first_name="Ana", stage="customer", sector="hostelería", source="web", company=company
    )[0]
    a.tags.add(vip)
    b = make_customers(1, first_name="Bea", owner=colleague, email="bea@tienda.es")[0]
    c = make_customers(1, first_name="Carmen", phone="+34698765432")[0]

    def ids(**params):
        response = owner_api.get("/api/customers", params)
        assert response.status_code == 200, response.content
        return {x["id"] for x in response.json()["items"]}

    assert ids() == {a.pk, b.pk, c.pk}
    assert ids(stage="customer") == {a.pk}
    assert ids(owner=colleague.pk) == {b.pk}
    assert ids(tag=vip.pk) == {a.pk}
    assert ids(sector="hostelería") == {a.pk}
    assert ids(source="web") == {a.pk}
    assert ids(company=company.pk) == {a.pk}
    assert ids(q="bea") == {b.pk}
    assert ids(q="bea@tienda") == {b.pk}
    assert ids(q="698 765 432") == {c.pk}
    assert ids(q="talleres") == {a.pk}  # by company name
    assert ids(stage="customer", owner=colleague.pk) == set()


@pytest.mark.parametrize(
    "params", [{"stage": "vip"}, {"limit": 0}, {"limit": 1000}, {"owner": "me"}, {"sort": "x"}]
)
def test_invalid_list_parameters_are_422(owner_api, params):
    response = owner_api.get("/api/customers", params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_customer_list_runs_a_constant_number_of_queries(
    owner_api, make_customers, django_assert_max_num_queries
):
    vip = Tag.objects.create(name="VIP")

    def count_for(n: int) -> int:
        Customer.objects.all().delete()
        for customer in make_customers(n):
            customer.tags.add(vip)
        owner_api.get("/api/customers", {"limit": 100})  # warm-up: records the token's last use
        with CaptureQueriesContext(connection) as queries:
            response = owner_api.get("/api/customers", {"limit": 100})
        assert len(response.json()["items"]) == n
        return len(queries)

    few, many = count_for(5), count_for(50)
    assert few == many
    with django_assert_max_num_queries(8):
        owner_api.get("/api/customers", {"limit": 100, "stage": "prospect", "tag": vip.pk, "q": "nombre"})


# --- companies and tags ---------------------------------------------------------------------------


def test_company_crud(owner_api, manager_api):
    created = owner_api.post("/api/companies", {"name": "Conservas Rías SL", "tax_id": "b-87654321"})
    assert created.status_code == 201, created.content
    company_id = created.json()["id"]
    assert created.json()["tax_id"] == "B87654321"
    assert owner_api.get(f"/api/companies/{company_id}").json()["name"] == "Conservas Rías SL"
    assert owner_api.get("/api/companies", {"q": "conser"}).json()["items"][0]["id"] == company_id
    assert owner_api.get("/api/companies", {"q": "xyz"}).json()["items"] == []
    patched = manager_api.patch(f"/api/companies/{company_id}", {"size": "10-49"})
    assert patched.status_code == 200
    assert patched.json()["size"] == "10-49"
    assert manager_api.delete(f"/api/companies/{company_id}").status_code == 204
    assert not Company.objects.exists()


def test_company_duplicate_tax_id_and_bad_website_are_field_errors(owner_api, company):
    response = owner_api.post("/api/companies", {"name": "Otra", "tax_id": "B12345678"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "tax_id"
    response = owner_api.post("/api/companies", {"name": "Otra", "website": "no es una web"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "website"
    assert Company.objects.count() == 1


def test_tag_list(owner_api):
    Tag.objects.create(name="VIP")
    Tag.objects.create(name="Feria")
    body = owner_api.get("/api/tags").json()
    assert [t["name"] for t in body["items"]] == ["Feria", "VIP"]


def test_a_sales_rep_cannot_clear_or_give_away_their_customers_owner(
    owner, colleague, owner_api, customer, db_snapshot
):
    before = db_snapshot()
    cleared = owner_api.patch(f"/api/customers/{customer.pk}", {"owner": None})
    assert cleared.status_code == 403
    assert set(cleared.json()) == {"detail"}
    assert owner_api.patch(f"/api/customers/{customer.pk}", {"owner": colleague.pk}).status_code == 403
    assert owner_api.post("/api/customers", {"first_name": "Sin dueño", "owner": None}).status_code == 403
    assert (
        owner_api.post("/api/customers", {"first_name": "De Carlos", "owner": colleague.pk}).status_code
        == 403
    )
    assert db_snapshot() == before
    # Sending the owner it already has changes nothing and is fine.
    assert owner_api.patch(f"/api/customers/{customer.pk}", {"owner": owner.pk}).status_code == 200
    assert owner_api.post("/api/customers", {"first_name": "Mía", "owner": owner.pk}).status_code == 201


def test_a_manager_may_clear_or_change_an_owner(manager_api, colleague, customer):
    assert manager_api.patch(f"/api/customers/{customer.pk}", {"owner": None}).status_code == 200
    customer.refresh_from_db()
    assert customer.owner is None
    assert manager_api.patch(f"/api/customers/{customer.pk}", {"owner": colleague.pk}).status_code == 200
    customer.refresh_from_db()
    assert customer.owner == colleague
