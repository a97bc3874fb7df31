"""Long lists of ids: ``any_of`` (one parameter instead of one per id) and the page's row read.

Both were found slow at 1,000,000 customers (docs/benchmarks.md, issue 10's search); here they are
checked for giving the same rows as the plain ORM on whichever database the run uses.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartera.core.pagination import paginate
from cartera.customers import selectors
from cartera.customers.models import Customer, Stage
from cartera.customers.services import customer_create


@pytest.fixture
def people(owner):
    names = ["Dolores Bermejo Molina", "Ana Molina Pérez", "Luis García Molina", "Marta Ruiz Gil"]
    made = []
    for i in range(40):
        first, *surnames = names[i % len(names)].split(" ")
        made.append(
            customer_create(
                actor=owner,
                fields={
                    "first_name": first,
                    "last_name": " ".join(surnames),
                    "stage": Stage.CUSTOMER if i % 3 else Stage.PROSPECT,
                },
            )
        )
    return made


def test_any_of_finds_the_same_rows_as_in(people):
    ids = [c.pk for c in people[::3]] + [10**9]  # one that does not exist
    expected = set(Customer.objects.filter(pk__in=ids).values_list("pk", flat=True))
    found = set(Customer.objects.filter(pk__any_of=ids).values_list("pk", flat=True))
    assert found == expected and len(found) == len(people[::3])
    # Combined with other conditions and negated, as the ORM combines any lookup.
    assert set(
        Customer.objects.filter(pk__any_of=ids, stage=Stage.PROSPECT).values_list("pk", flat=True)
    ) == set(Customer.objects.filter(pk__in=ids, stage=Stage.PROSPECT).values_list("pk", flat=True))
    assert set(Customer.objects.exclude(pk__any_of=ids).values_list("pk", flat=True)) == set(
        Customer.objects.exclude(pk__in=ids).values_list("pk", flat=True)
    )


def test_any_of_sends_the_list_as_one_parameter(people):
    ids = [c.pk for c in people]
    with CaptureQueriesContext(connection) as ctx:
        list(Customer.objects.filter(pk__any_of=ids).values_list("pk", flat=True))
    sql = ctx.captured_queries[-1]["sql"]
    if connection.vendor == "postgresql":
        assert "= ANY(" in sql
    else:
        assert "json_each" in sql
    assert sql.count(str(ids[-1])) == 1


def test_any_of_an_empty_list_matches_nobody(people):
    assert not Customer.objects.filter(pk__any_of=[]).exists()
    assert Customer.objects.exclude(pk__any_of=[]).count() == len(people)


@pytest.mark.parametrize("bad", [[True], ["1; DROP TABLE x"], [1.5]])
def test_any_of_takes_integers_only(people, bad):
    with pytest.raises((TypeError, ValueError)):
        list(Customer.objects.filter(pk__any_of=bad))


def test_a_page_reads_its_rows_by_id_without_the_search_again(owner, people):
    """The page of a search is the first rows of the search in order, and its second query (the
    rows, read by id) does not evaluate the search's condition again."""
    qs = selectors.customer_list(
        user=owner, filters=selectors.CustomerFilters(query="molina", stage=Stage.CUSTOMER)
    )
    expected = list(qs.order_by("-id").values_list("pk", flat=True)[:7])
    assert len(expected) == 7
    with CaptureQueriesContext(connection) as ctx:
        page = paginate(qs, ordering=("-id",), cursor=None, size=6)
    assert [row.pk for row in page.rows] == expected[:6]
    assert page.next_cursor
    rows_sql = ctx.captured_queries[-1]["sql"]
    assert "MATCH" not in rows_sql and "@@" not in rows_sql and "stage" not in rows_sql.split("WHERE", 1)[1]
    # The joins of the list stay (owner and metrics read with the rows, no query per row).
    with CaptureQueriesContext(connection) as after:
        for row in page.rows:
            _ = (row.owner and row.owner.username, row.company)
    assert len(after.captured_queries) == 0
    following = paginate(qs, ordering=("-id",), cursor=page.next_cursor, size=6)
    assert [row.pk for row in following.rows][:1] == expected[6:7]


@pytest.mark.parametrize(
    ("resolve_limit", "count_limit", "expected"),
    [
        (100, 1000, (10, False)),  # narrow: resolved to ids, counted exactly
        (5, 1000, (10, False)),  # broad: filtered as it is, counted exactly
        (5, 8, (7, True)),  # broad beyond what is counted: "more than"
    ],
)
def test_the_search_count_is_read_once_and_right(
    owner, people, monkeypatch, resolve_limit, count_limit, expected
):
    """The search counts its matches to choose a plan; the list's count is that count (no second
    read of the matches), and it equals the database's own count."""
    from cartera.core.pagination import capped_count

    monkeypatch.setattr(selectors, "SEARCH_RESOLVE_LIMIT", resolve_limit)
    monkeypatch.setattr(selectors, "SEARCH_COUNT_LIMIT", count_limit)
    filters = selectors.CustomerFilters(query="ana molina")
    qs = selectors.customer_list(user=owner, filters=filters)
    real = Customer.objects.filter(first_name="Ana", last_name="Molina Pérez").count()
    assert real == 10
    with CaptureQueriesContext(connection) as ctx:
        total, more = capped_count(qs, 7 if expected[1] else 100)
    assert (total, more) == expected and len(ctx.captured_queries) == 0
    # A clone may hold fewer rows: it counts for itself.
    narrower = qs.filter(stage=Stage.PROSPECT)
    assert capped_count(narrower, 100) == (narrower.count(), False)
    assert narrower.count() < real


def test_any_of_on_text_finds_the_same_rows_as_in(owner):
    """Text columns (e-mails, phones, order numbers: the import's matching) take ``any_of`` too, with
    values that would break SQL or JSON text if they were ever written into it."""
    tricky = [
        "o'brien@example.es",
        'comillas"dobles@example.es',
        "barra\\invertida@example.es",
        "ñandú@example.es",
    ]
    # Written as stored values (the form would refuse some of these addresses; the lookup must not care).
    Customer.objects.bulk_create(
        Customer(first_name=f"P{i}", email=email, phone=f"+3461100000{i}", owner=owner)
        for i, email in enumerate([*tricky, "otra@example.es"])
    )
    wanted = [*tricky[:3], "nadie@example.es", "x') OR 1=1 --"]
    expected = set(Customer.objects.filter(email__in=wanted).values_list("email", flat=True))
    found = set(Customer.objects.filter(email__any_of=wanted).values_list("email", flat=True))
    assert found == expected == set(tricky[:3])
    assert set(Customer.objects.exclude(email__any_of=wanted).values_list("email", flat=True)) == set(
        Customer.objects.exclude(email__in=wanted).values_list("email", flat=True)
    )
    assert Customer.objects.filter(phone__any_of=["+34611000004", 612]).count() == 1
    assert not Customer.objects.filter(email__any_of=[]).exists()


def test_any_of_on_text_matches_exactly_whatever_the_characters(owner):
    """Text lists reach PostgreSQL as one array literal built here: quotes, backslashes, commas,
    braces, spaces, the word NULL and empty strings are matched as the text they are, nothing more."""
    tricky = ["a,b", "{x}", "NULL", '"quoted"', "back\\slash", 'a"b\\c', "  spaced  ", "ñandú", "x'); --"]
    for name in [*tricky, "a", "b", "x", "quoted", "null", "spaced"]:
        Customer.objects.create(first_name=name, last_name="Prueba", owner=owner)
    wanted = [*tricky, "", "not there"]
    found = sorted(Customer.objects.filter(first_name__any_of=wanted).values_list("first_name", flat=True))
    assert found == sorted(tricky)
    assert found == sorted(
        Customer.objects.filter(first_name__in=wanted).values_list("first_name", flat=True)
    )
    assert Customer.objects.filter(first_name__any_of=[""]).count() == 0
