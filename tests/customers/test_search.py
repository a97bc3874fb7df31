"""Any-word customer search on the database's own full-text index (FTS5 on SQLite, tsvector on PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from cartera.core.search import fts5_prefix_query, search_words, tsquery_prefix_query
from cartera.customers.models import Customer
from cartera.customers.selectors import CustomerFilters, customer_list
from cartera.customers.services import customer_create


def found(user, query: str) -> list[str]:
    return [
        c.full_name for c in customer_list(user=user, filters=CustomerFilters(query=query)).order_by("id")
    ]


@pytest.fixture
def people(owner):
    fields = [
        {"first_name": "María Dolores", "last_name": "Bermejo Sánchez", "email": "mdbermejo@example.com"},
        {"first_name": "Juan", "last_name": "Pérez Molina", "email": "jperezm@example.com"},
        {"first_name": "Alicia", "last_name": "Prieto Pardo", "email": "aprietop@example.com"},
        {"first_name": "Rocío", "last_name": "Jiménez Ávila", "email": "rjimenez@example.es"},
        {"first_name": "Dolores", "last_name": "Molina Ruiz"},
    ]
    return [customer_create(actor=owner, fields=f) for f in fields]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The three searches of issue 10 that found nothing.
        ("dolores bermejo", ["María Dolores Bermejo Sánchez"]),
        ("molina", ["Juan Pérez Molina", "Dolores Molina Ruiz"]),
        ("aprietop", ["Alicia Prieto Pardo"]),
        # Accents and case do not matter, on either side.
        ("jimenez", ["Rocío Jiménez Ávila"]),
        ("JIMÉNEZ avila", ["Rocío Jiménez Ávila"]),
        ("rocio", ["Rocío Jiménez Ávila"]),
        # A prefix of any word, in any order; every word must match.
        ("berm", ["María Dolores Bermejo Sánchez"]),
        ("mol", ["Juan Pérez Molina", "Dolores Molina Ruiz"]),
        ("molina juan", ["Juan Pérez Molina"]),
        ("mol dol", ["Dolores Molina Ruiz"]),
        ("sanchez maria", ["María Dolores Bermejo Sánchez"]),
        ("juan bermejo", []),
        # The e-mail's local part, as a prefix.
        ("jperez", ["Juan Pérez Molina"]),
    ],
)
def test_any_word_search(owner, people, query, expected):
    assert found(owner, query) == expected


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "*",
        "AND",
        "NEAR(bermejo molina)",
        "bermejo OR molina",
        "bermejo NOT molina",
        "(",
        ")",
        "'",
        "bermejo'",
        '"bermejo',
        "bermejo:*",
        "molina & juan | x",
        "!molina",
        "\\",
        "document:bermejo",  # a column filter in FTS5 syntax: here two words, "document" matches nobody
        "' OR 1=1 --",
        "^ber",
        "-",
        "ber* + mol*",
    ],
)
def test_query_syntax_typed_by_a_user_is_searched_as_words(owner, people, query):
    result = found(owner, query)  # no database error: nothing reaches the full-text syntax
    if "bermejo" in query.lower() and "molina" not in query.lower() and "document" not in query:
        assert result == ["María Dolores Bermejo Sánchez"]
    if query == "molina & juan | x":
        assert result == []  # three words, "x" starts none of Juan's


def test_query_words_are_letters_and_digits_only():
    assert search_words('  "Dolores"  BERMEJO* (NEAR) o\'Brien:* Ñúñez ') == [
        "dolores", "bermejo", "near", "o", "brien", "nunez"
    ]  # fmt: skip
    assert fts5_prefix_query(["dolores", "bermejo"]) == '"dolores"* AND "bermejo"*'
    assert tsquery_prefix_query(["dolores", "bermejo"]) == "'dolores':* & 'bermejo':*"
    assert search_words("*()'\":") == []


def test_bulk_insert_and_raw_update_keep_the_index(owner, people):
    """Writes that bypass the services (bulk inserts, raw SQL) are indexed by the database itself."""
    Customer.objects.bulk_create(
        [Customer(first_name="Remedios", last_name="Varo Uranga", email="rvaro@example.com", owner=owner)]
    )
    assert found(owner, "uranga remedios") == ["Remedios Varo Uranga"]
    juan = people[1]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE customers_customer SET last_name = %s, email = %s WHERE id = %s",
            ["Pérez Zubizarreta", "jpz@example.com", juan.pk],
        )
    assert found(owner, "zubiza juan") == ["Juan Pérez Zubizarreta"]
    assert found(owner, "jpz") == ["Juan Pérez Zubizarreta"]
    assert found(owner, "molina") == ["Dolores Molina Ruiz"]
    assert found(owner, "jperezm") == []
    Customer.objects.filter(last_name="Varo Uranga").update(first_name="Remedios Lucía")
    assert found(owner, "lucia uranga") == ["Remedios Lucía Varo Uranga"]
    Customer.objects.filter(last_name="Varo Uranga").delete()
    assert found(owner, "uranga") == []


def test_phone_email_and_company_searches_keep_their_paths(owner, customer):
    customer_create(actor=owner, fields={"first_name": "Pepe", "company_name": "Ferretería Núñez"})
    assert found(owner, "ferreteria") == ["Pepe"]
    assert found(owner, "lucia@ex") == ["Lucía Martínez Ortega"]
    assert found(owner, "612 345") == ["Lucía Martínez Ortega"]


def test_the_database_keeps_the_index_after_every_migration(db):
    """A later migration that makes Django rebuild the customer table on SQLite would drop the
    triggers with it; this fails then, and that migration must create them again (0006 has the SQL)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'customers_customer'"
            )
            assert {row[0] for row in cursor.fetchall()} >= {
                "customers_customer_search_insert",
                "customers_customer_search_update",
                "customers_customer_search_delete",
            }
        else:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'customers_customer_search'")
            assert "gin (search_document)" in cursor.fetchone()[0]
            cursor.execute(
                "SELECT generation_expression FROM information_schema.columns "
                "WHERE table_name = 'customers_customer' AND column_name = 'search_document'"
            )
            assert "customers_search_document" in cursor.fetchone()[0]


def test_search_page_and_api_find_by_any_word(client, owner, people):
    client.force_login(owner)
    for query, name in (
        ("dolores bermejo", "Bermejo"),
        ("molina", "Pérez Molina"),
        ("aprietop", "Prieto Pardo"),
    ):
        body = client.get(reverse("customers:list"), {"q": query}).content.decode()
        assert name in body
        response = client.get("/api/customers", {"q": query})
        assert response.status_code == 200
        assert any(name in item["last_name"] for item in response.json()["items"])
