"""A one-letter typo still finds the person when nothing matches as typed; a company's tax id finds its
contacts. Both through the database's own full-text index (FTS5 / tsvector)."""

from __future__ import annotations

import pytest

from cartera.core.search import one_edit_variants, search_words, typo_queries
from cartera.customers.services import company_create, customer_create
from tests.customers.test_search import found

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(owner):
    acme = company_create(actor=owner, fields={"name": "Talleres Acme", "tax_id": "B12345678"})
    fields = [
        {"first_name": "María Dolores", "last_name": "Bermejo Sánchez", "email": "mdbermejo@example.com"},
        {"first_name": "Juan", "last_name": "Pérez Molina", "email": "jperezm@example.com", "company": acme},
        {"first_name": "Rocío", "last_name": "Jiménez Ávila", "email": "rjimenez@example.es"},
        {"first_name": "Dolores", "last_name": "Molina Ruiz"},
        {"first_name": "Mónica", "last_name": "Molino"},
    ]
    return [customer_create(actor=owner, fields=f) for f in fields]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("molna", ["Juan Pérez Molina", "Dolores Molina Ruiz"]),  # a letter dropped (Molino is two away)
        ("molno", ["Mónica Molino"]),
        ("mloina", ["Juan Pérez Molina", "Dolores Molina Ruiz"]),  # two letters swapped
        ("dolores bermjo", ["María Dolores Bermejo Sánchez"]),  # one word right, one mistyped
        ("jimenes rocio", ["Rocío Jiménez Ávila"]),  # a letter changed, words in any order
        ("bermejjo", ["María Dolores Bermejo Sánchez"]),  # a letter added
        ("MOLÍNA RUIZ", ["Dolores Molina Ruiz"]),  # exact: no typo needed, case and accents ignored
    ],
)
def test_one_letter_typo_finds_the_person(owner, people, query, expected):
    assert found(owner, query) == expected


def test_exact_matches_come_alone_and_two_typos_find_nothing(owner, people):
    # "molina" matches as typed, so "molino" (one letter away) is not added to it.
    assert found(owner, "molina") == ["Juan Pérez Molina", "Dolores Molina Ruiz"]
    assert found(owner, "mlona") == []  # two edits away
    assert found(owner, "xyz") == []  # too short to carry a typo


def test_a_tax_id_finds_the_companys_contacts(owner, people):
    assert found(owner, "B-12345678") == ["Juan Pérez Molina"]
    assert found(owner, "b 1234 5678") == ["Juan Pérez Molina"]


def test_the_variants_are_one_edit_away():
    variants = one_edit_variants("mola")
    for expected in ("molla", "mol", "moal", "mila", "amola"):
        assert expected in variants
    assert "mola" not in variants and "ma" not in variants
    assert len(variants) == len(set(variants))
    # Only words of four letters or more are tried, and only letters.
    assert [position for _others, position, _v in typo_queries(search_words("de la molna 2024"))] == [2]


def test_a_typo_is_read_through_the_index_and_resolved_to_ids(owner, people):
    """PostgreSQL scanned the whole table for a typo's few hundred words (docs/benchmarks.md): the
    words the index holds are looked up with sequential scans turned off for that one query, and
    the setting is back as it was afterwards; a typo matching few people is then resolved to their
    ids like any search, so the list filters by those ids, not by the typo's query."""
    from django.db import connection

    from cartera.customers import selectors

    qs = selectors.customer_list(user=owner, filters=selectors.CustomerFilters(query="molna"))
    sql = str(qs.query)
    assert ("= ANY(" in sql or "json_each" in sql) and "MATCH" not in sql and "to_tsquery" not in sql
    assert sorted(f"{c.first_name} {c.last_name}" for c in qs) == ["Dolores Molina Ruiz", "Juan Pérez Molina"]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_seqscan")
            assert cursor.fetchone()[0] == "on"
            cursor.execute("SELECT set_config('enable_seqscan', 'off', false)")
        selectors.customer_list(user=owner, filters=selectors.CustomerFilters(query="molna"))
        with connection.cursor() as cursor:
            cursor.execute("SHOW enable_seqscan")
            assert cursor.fetchone()[0] == "off"  # whatever it was, it is again
            cursor.execute("SELECT set_config('enable_seqscan', 'on', false)")


def test_only_the_variants_the_index_holds_are_searched(owner, people):
    """Of "molna"'s 285 variants the index holds "molina" alone; "bermjo" gives "bermejo"; a word
    whose variants are all unknown drops out, and with none left the typo finds nobody."""
    from cartera.customers import selectors

    variants = one_edit_variants("molna") + one_edit_variants("bermjo") + one_edit_variants("zzzzq")
    assert selectors.indexed_words(sorted(set(variants))) == {"molina", "bermejo"}
    assert selectors.indexed_words([]) == set()
    words = search_words("dolores bermjo")
    assert typo_queries(words, known={"bermejo"}) == [(["dolores"], 1, ["bermejo"])]
    assert typo_queries(words, known=set()) == []
    # "zzzzq" has no known variant: the typo branch matches nobody, without a full-text query.
    assert found(owner, "zzzzq") == []
