"""Issue 11, speed: the duplicate finder's fast passes find what the plain ones find, planted twins are
all found, and a huge block of namesakes neither explodes nor hides the twins inside it."""

import random

import pytest

from cartera.core.text import fold
from cartera.customers.matching import (
    WINDOW,
    Person,
    Row,
    pairs_by_name,
    pairs_by_name_fast,
    pairs_by_phone,
    pairs_by_phone_fast,
    people,
    score_pair,
)
from cartera.customers.models import Company, Customer, DuplicateCandidate
from cartera.customers.services import duplicate_candidates_refresh

FIRST = ["María", "Lucía", "Ana", "José", "Pablo", "Álvaro", "Iván", "Rosa"]
LAST = ["García", "Pérez", "Núñez", "Ruiz", "Gil", "Peña", "Jiménez"]
CITIES = ["Madrid", "Sevilla", "Bilbao", "Cádiz", "León"]


def synthetic(size: int, seed: int = 11) -> tuple[list[dict[str, str | None]], list[tuple[int, int]]]:
    """``size`` customers with many namesakes (short name lists), and the planted twins (indexes): a
    twin has its original's name re-cased or without accents and its phone or its company (e-mails are
    unique in the file), and lives anywhere."""
    rng = random.Random(seed)
    made: list[dict[str, str | None]] = []
    twins: list[tuple[int, int]] = []
    for i in range(size):
        if made and rng.random() < 0.1:
            j = rng.randrange(len(made))
            original = made[j]
            first, last = original["first_name"] or "", original["last_name"] or ""
            first, last = (first.upper(), fold(last)) if rng.random() < 0.5 else (fold(first), last)
            shared = rng.choice([k for k in ("phone", "company") if original[k]] or ["phone"])
            twin: dict[str, str | None] = {
                "first_name": first, "last_name": last, "city": rng.choice(CITIES),
                "phone": "", "email": None, "company": None,
            }  # fmt: skip
            if shared == "phone" and not original["phone"]:
                original["phone"] = f"+3461{i:07d}"
            twin[shared] = original[shared]
            made.append(twin)
            twins.append((j, i))
            continue
        made.append(
            {
                "first_name": rng.choice(FIRST),
                "last_name": f"{rng.choice(LAST)} {rng.choice(LAST)}",
                "phone": f"+3460{i:07d}" if rng.random() < 0.7 else "",
                "email": f"c{i}@example.es" if rng.random() < 0.6 else None,
                "company": f"Empresa {i % 40}" if rng.random() < 0.2 else None,
                "city": rng.choice(CITIES),
            }
        )
    return made, twins


def rows_of(made: list[dict[str, str | None]]) -> list[Row]:
    """The finder's rows (name keys, the company's name as its key), ids from 1."""
    rows: list[Row] = []
    for pk, person in enumerate(made, start=1):
        first, last = Customer.name_keys(person["first_name"], person["last_name"])
        company = fold(person["company"]) if person["company"] else None
        rows.append((pk, first, last, person["email"], person["phone"], person["city"], company, None))
    return rows


def in_name_order(rows: list[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: (r[2], r[1], r[6] or "", r[5] or "", r[0]))


def test_the_fast_passes_find_exactly_what_the_plain_ones_find():
    """Chunks of a few rows, so that every carry from one chunk to the next is exercised."""
    rows = rows_of(synthetic(600)[0])
    rows.append((9001, "ana", "", None, "+34600000001", "Madrid", None, "B1"))  # no surname
    rows.append((9002, "ana", "", None, "+34600000001", "Madrid", None, "B2"))
    rows.append((9003, "ruiz", "ana", None, None, "Madrid", None, None))  # the other way round
    rows.append((9004, "ana", "ruiz", None, None, "Madrid", None, None))
    by_name = in_name_order(rows)
    by_phone = sorted((r for r in rows if r[4]), key=lambda r: (r[4], r[0]))
    plain_name = sorted(pairs_by_name(people(by_name)), key=lambda m: (m.first, m.second))
    plain_phone = sorted(pairs_by_phone(people(by_phone)), key=lambda m: (m.first, m.second))
    assert len(plain_name) > 20 and len(plain_phone) > 20  # the comparison means something
    for chunk in (7, 50, 10_000):
        fast_name = sorted(pairs_by_name_fast(by_name, chunk=chunk), key=lambda m: (m.first, m.second))
        fast_phone = sorted(pairs_by_phone_fast(by_phone, chunk=chunk), key=lambda m: (m.first, m.second))
        assert fast_name == plain_name
        assert fast_phone == plain_phone


def test_a_phone_shared_by_many_is_compared_among_its_first_ones_only_in_both_passes():
    rows: list[Row] = [(pk, "ana", "ruiz", None, "+34911000000", "Madrid", None, None) for pk in range(1, 60)]
    plain = list(pairs_by_phone(people(rows)))
    assert len(plain) == 20 * 19 // 2
    for chunk in (3, 19, 20, 21, 100):
        assert sorted(pairs_by_phone_fast(rows, chunk=chunk), key=lambda m: (m.first, m.second)) == sorted(
            plain, key=lambda m: (m.first, m.second)
        )


def test_a_shared_name_alone_against_a_difference_is_not_a_duplicate():
    """Namesakes: one without an e-mail, the other without a phone, in different cities."""
    a = Person.of(1, "maria", "garcia", email="m@x.es", city="madrid")
    b = Person.of(2, "maria", "garcia", phone="+34600000002", city="sevilla")
    assert score_pair(a, b) is None
    # Nothing contradicts (the same city, or no city known): proposed, low.
    same_town = score_pair(a, Person.of(2, "maria", "garcia", phone="+34600000002", city="madrid"))
    assert same_town is not None and same_town.score == 60
    # Something besides the name agrees: a difference does not stop it.
    colleague = score_pair(
        Person.of(1, "maria", "garcia", company="acme", city="madrid"),
        Person.of(2, "maria", "garcia", company="acme", city="sevilla"),
    )
    assert (
        colleague is not None and "same_company" in colleague.reasons and "city_differs" in colleague.reasons
    )


def _store(made: list[dict[str, str | None]]) -> list[int]:
    companies = {
        name: Company.objects.create(name=name, name_key=Company.key_for(name))
        for name in {p["company"] for p in made}
        if name
    }
    customers = []
    for person in made:
        customer = Customer(
            first_name=person["first_name"],
            last_name=person["last_name"],
            email=person["email"],
            phone=person["phone"] or "",
            city=person["city"] or "",
            company=companies.get(person["company"] or ""),
        )
        customer.set_search_keys()
        customers.append(customer)
    return [c.pk for c in Customer.objects.bulk_create(customers, batch_size=500)]


@pytest.mark.django_db
def test_every_planted_twin_is_found_and_the_plain_twin_agrees(settings):
    made, twins = synthetic(400, seed=5)
    ids = _store(made)
    found = duplicate_candidates_refresh()
    stored = set(DuplicateCandidate.objects.values_list("first_id", "second_id"))
    assert found == len(stored)
    planted = {tuple(sorted((ids[a], ids[b]))) for a, b in twins}
    assert len(planted) > 20
    assert planted <= stored
    # Namesakes whose e-mails and phones both differ are never proposed.
    contradicting = {
        (a, b) for a, b in stored
        if made[ids.index(a)]["email"] and made[ids.index(b)]["email"]
        and made[ids.index(a)]["phone"] and made[ids.index(b)]["phone"]
        and made[ids.index(a)]["phone"] != made[ids.index(b)]["phone"]
    }  # fmt: skip
    assert not contradicting

    def stored_pairs() -> set[tuple[int, int, int, tuple[str, ...]]]:
        rows = DuplicateCandidate.objects.values_list("first_id", "second_id", "score", "reasons")
        return {(a, b, score, tuple(reasons)) for a, b, score, reasons in rows}

    fast = stored_pairs()
    settings.CARTERA_BULK_PLAIN = True
    assert duplicate_candidates_refresh() == found
    assert stored_pairs() == fast


@pytest.mark.django_db
def test_a_huge_block_of_namesakes_does_not_explode_and_hides_no_twin():
    """Two thousand "María García": each is compared with a few neighbours, not with all the others;
    the twins inside the block (the same phone, the same company) are still found."""
    size = 2000
    made: list[dict[str, str | None]] = [
        {
            "first_name": "María",
            "last_name": "García",
            "phone": f"+3460{i:07d}",
            "email": f"maria{i}@example.es",
            "company": None,
            "city": CITIES[i % len(CITIES)],
        }
        for i in range(size)
    ]
    acme = {"first_name": "María", "last_name": "García", "phone": "", "email": None, "company": "Acme"}
    made = [
        {**acme, "city": "Vigo"},  # first and last in id order: two thousand namesakes between them
        *made,
        {"first_name": "MARIA", "last_name": "Garcia", "phone": "+34600000700", "email": None, "company": None,
         "city": "Teruel"},
        {**acme, "first_name": "Maria", "last_name": "GARCÍA", "city": "Soria"},
    ]  # fmt: skip
    ids = _store(made)
    found = duplicate_candidates_refresh()
    stored = set(DuplicateCandidate.objects.values_list("first_id", "second_id"))
    assert (ids[701], ids[size + 1]) in stored  # the same phone, two thousand namesakes apart
    assert (ids[0], ids[size + 2]) in stored  # the same company: sorted next to each other
    assert found <= 3  # every other pair contradicts on both e-mail and phone
    # Nothing known but the name: still at most WINDOW pairs per customer, not two million.
    Customer.objects.update(email=None, phone="", city="")
    assert duplicate_candidates_refresh() <= WINDOW * len(made)
