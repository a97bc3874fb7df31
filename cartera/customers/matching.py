"""Whether two customers are one person: the duplicate finder's scoring, on plain values.

A pair is scored on everything the file knows about both people at once: the name (how alike), the
e-mail, the phone, the company's tax id, the company and the city (each the same, different, or
unknown on one side). What agrees adds points, what contradicts takes some away, and what one side
does not know counts for nothing. The import's own rule holds here too: two records whose e-mails
*and* phones are both known and both different are different people, and are never proposed, unless
everything else (full name, company and city) is the same.

A name alone is weak evidence: a big file holds many "María García" who are different people. A pair
that agrees on nothing but the name (no e-mail, phone, tax id or company in common) is proposed only
when nothing contradicts it either (no different e-mail, phone, tax id, company or city): two namesakes
in different cities, one without an e-mail and the other without a phone, are not proposed.

Candidates come from two passes that keep memory flat whatever the size of the file: customers read
in name order (then company and city, so that namesakes of one company or town sit together), each
compared with the few that follow it (sorted neighbourhood: a block of ten thousand "María García"
costs ten thousand times :data:`WINDOW` comparisons, never its square), and customers read in phone
order, each compared with the others sharing its number (the first :data:`PHONE_GROUP_CAP` only).

Each pass has two implementations with the same results: the plain one (:func:`pairs_by_name`,
:func:`pairs_by_phone`: one :func:`score_pair` call per neighbour, in Python) and the fast one
(:func:`pairs_by_name_fast`, :func:`pairs_by_phone_fast`), which takes the rows a chunk at a time,
throws out in numpy and rapidfuzz's batch scorer the neighbours that :func:`score_pair` would refuse,
and calls :func:`score_pair` only on the few that are left, so the scoring rules live in one place.
``CARTERA_BULK_PLAIN`` makes the finder use the plain ones; a test compares the two.
Nothing here touches the database.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import NamedTuple

import numpy as np
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from cartera.core.text import fold

# A pair is proposed from this score (0-100) up.
THRESHOLD = 40
# How many following customers (in name order) each one is compared with.
WINDOW = 6
# Names less alike than this are different people, whatever else they share (a family's landline),
# unless the e-mail is the same.
NAME_CUTOFF = 60
# A phone shared by more people than this (a shop's switchboard) is compared among the first ones only.
PHONE_GROUP_CAP = 20
# How many rows the fast passes take at a time (the memory they hold is a few of these).
FAST_CHUNK = 50_000

POINTS = {
    "email": (35, -10),  # same, different
    "phone": (30, -10),
    "tax_id": (15, -15),
    "company": (10, -10),
    "city": (10, -5),
}
# The fields whose agreement backs a shared name (a city is shared by too many people to count).
CORROBORATING = ("email", "phone", "tax_id", "company")


class Person(NamedTuple):
    """What the finder compares of one customer (folded, lower-case values; empty when unknown).

    A plain tuple: the finder makes one per customer, a million at a time."""

    pk: int
    first_name: str
    last_name: str = ""
    email: str = ""
    phone: str = ""
    tax_id: str = ""
    company: str = ""
    city: str = ""
    name: str = ""  # "first last"; :meth:`of` fills it

    @classmethod
    def of(cls, pk: int, first_name: str, last_name: str = "", **known: str) -> Person:
        """A person with the full name filled in."""
        return cls(pk, first_name, last_name, name=f"{first_name} {last_name}".strip(), **known)


def name_similarity(a: Person, b: Person) -> float:
    """How alike two people's names are (0-100): the first names and the surnames each compared, the
    less alike of the two counting, so that a shared surname alone (a family) is not a similar name.
    Names written the other way round ("Jiménez Pablo") count as the same."""
    if a.name == b.name:
        return 100.0
    if not (a.last_name and b.last_name):
        return fuzz.token_sort_ratio(a.name, b.name)
    straight = min(fuzz.ratio(a.first_name, b.first_name), fuzz.ratio(a.last_name, b.last_name))
    if straight >= 100:
        return straight
    return max(straight, fuzz.token_sort_ratio(a.name, b.name, score_cutoff=100))


@dataclass(frozen=True, slots=True)
class Match:
    """A proposed pair (``first`` the lower id), its score and the codes of why."""

    first: int
    second: int
    score: int
    reasons: tuple[str, ...]


def score_pair(a: Person, b: Person) -> Match | None:
    """Score two customers; ``None`` when they are not proposed as one person.

    Half of the score is how alike the full names are; each of e-mail, phone, tax id, company and city
    then adds (the same on both) or takes away (known on both and different) the points in
    :data:`POINTS`. The reasons list every field that agreed or differed.
    """
    if a.pk == b.pk:
        return None
    email_differs = a.email and b.email and a.email != b.email
    phone_differs = a.phone and b.phone and a.phone != b.phone
    if email_differs and phone_differs and not _everything_else_matches(a, b):
        return None  # checked first: the common case of namesakes, and cheap
    similarity = name_similarity(a, b)
    if similarity < NAME_CUTOFF and not (a.email and a.email == b.email):
        return None
    if not _corroborated(a, b) and _contradicted(a, b):
        return None  # the name alone, against something that differs: namesakes
    points = similarity / 2
    reasons: list[str] = []
    if similarity >= 100:
        reasons.append("same_name")
    elif similarity >= 85:
        reasons.append("similar_name")
    else:
        reasons.append("different_name")
    for name, (agree, differ) in POINTS.items():
        left, right = getattr(a, name), getattr(b, name)
        if not left or not right:
            continue
        same = left == right
        points += agree if same else differ
        reasons.append(f"same_{name}" if same else f"{name}_differs")
    if email_differs and phone_differs:
        reasons.append("everything_else_matches")
    score = round(max(0.0, min(100.0, points)))
    if score < THRESHOLD:
        return None
    first, second = (a.pk, b.pk) if a.pk < b.pk else (b.pk, a.pk)
    return Match(first, second, score, tuple(reasons))


def _corroborated(a: Person, b: Person) -> bool:
    """Something besides the name says these are one person: the same e-mail, phone, tax id or company."""
    return any(getattr(a, name) and getattr(a, name) == getattr(b, name) for name in CORROBORATING)


def _contradicted(a: Person, b: Person) -> bool:
    """Something known on both sides differs (the e-mail, phone, tax id, company or city)."""
    return any(
        getattr(a, name) and getattr(b, name) and getattr(a, name) != getattr(b, name) for name in POINTS
    )


def _everything_else_matches(a: Person, b: Person) -> bool:
    """The same full name, company and city, and no different tax id."""
    return bool(
        a.name == b.name
        and a.company
        and a.company == b.company
        and a.city
        and a.city == b.city
        and not (a.tax_id and b.tax_id and a.tax_id != b.tax_id)
    )


def pairs_by_name(people: Iterable[Person], window: int = WINDOW) -> Iterator[Match]:
    """Pairs among customers that come in name order, each compared with the next ``window`` ones."""
    recent: deque[Person] = deque(maxlen=window)
    ratio = fuzz.token_sort_ratio
    for person in people:
        for other in recent:
            if ratio(person.name, other.name, score_cutoff=NAME_CUTOFF):
                match = score_pair(person, other)
                if match is not None:
                    yield match
        recent.append(person)


def pairs_by_phone(people: Iterable[Person]) -> Iterator[Match]:
    """Pairs among customers that come in phone order and share a number (blank phones skipped)."""
    group: list[Person] = []
    for person in people:
        if not person.phone:
            continue
        if group and group[0].phone != person.phone:
            group = []
        if len(group) < PHONE_GROUP_CAP:
            for other in group:
                match = score_pair(person, other)
                if match is not None:
                    yield match
            group.append(person)


# --- rows from the database, and the fast passes ----------------------------------------------------

# One customer as the finder reads it: pk, first-name key, last-name key, e-mail, phone, city, the
# company's name key and the company's tax id (``None`` where unknown).
Row = tuple[int, str, str, str | None, str | None, str | None, str | None, str | None]


class _Cities:
    """Folds city names, remembering at most 100,000 of them (a file has few cities)."""

    def __init__(self) -> None:
        self.folded: dict[str | None, str] = {}

    def __call__(self, city: str | None) -> str:
        folded = self.folded.get(city)
        if folded is None:
            folded = fold(city)
            if len(self.folded) < 100_000:  # bounded, whatever the file holds
                self.folded[city] = folded
        return folded


def people(rows: Iterable[Row]) -> Iterator[Person]:
    """The :class:`Person` of each row (what the plain passes compare)."""
    city_of = _Cities()
    for pk, first, last, email, phone, city, company, tax_id in rows:
        yield Person(
            pk,
            first,
            last,
            (email or "").lower(),
            phone or "",
            tax_id or "",
            company or "",
            city_of(city),
            f"{first} {last}".strip(),
        )


class _Chunk:
    """A run of rows as columns (numpy object arrays of the same values a :class:`Person` holds)."""

    def __init__(self, rows: Sequence[Row], city_of: _Cities) -> None:
        pks, firsts, lasts, emails, phones, cities, companies, taxes = zip(*rows, strict=True)
        self.rows = rows
        self.first = np.array(firsts, dtype=object)
        self.last = np.array(lasts, dtype=object)
        self.name = np.array([f"{f} {s}".strip() for f, s in zip(firsts, lasts, strict=True)], dtype=object)
        self.email = np.array([(e or "").lower() for e in emails], dtype=object)
        self.phone = np.array([p or "" for p in phones], dtype=object)
        self.tax_id = np.array([t or "" for t in taxes], dtype=object)
        self.company = np.array([c or "" for c in companies], dtype=object)
        folded = {city: city_of(city) for city in set(cities)}
        self.city = np.array([folded[c] for c in cities], dtype=object)
        # Which values are known, per field: compared once per row, not once per pair.
        self.known = {field: getattr(self, field) != "" for field in POINTS}

    def person(self, i: int) -> Person:
        return Person(
            int(self.rows[i][0]),
            self.first[i],
            self.last[i],
            self.email[i],
            self.phone[i],
            self.tax_id[i],
            self.company[i],
            self.city[i],
            self.name[i],
        )

    def matches(self, a: np.ndarray, b: np.ndarray, *, name_window: bool) -> Iterator[Match]:
        """:func:`score_pair` on the pairs (``a[k]``, ``b[k]``) it may accept; the others are thrown
        out a whole array at a time by the same rules (on the safe side: what is left is scored).
        The cheap rules (equal values) go first; names are compared only for the pairs left."""
        same: dict[str, np.ndarray] = {}
        differs: dict[str, np.ndarray] = {}
        for field in POINTS:
            column, known = getattr(self, field), self.known[field]
            both = known[a] & known[b]
            same[field] = both & (column[a] == column[b])
            differs[field] = both & ~same[field]
        identical = self.name[a] == self.name[b]
        everything_else = identical & same["company"] & same["city"] & ~differs["tax_id"]
        alive = ~(differs["email"] & differs["phone"] & ~everything_else)
        corroborated = same["email"] | same["phone"] | same["tax_id"] | same["company"]  # CORROBORATING
        contradicted = (
            differs["email"] | differs["phone"] | differs["tax_id"] | differs["company"] | differs["city"]
        )
        alive &= corroborated | ~contradicted
        points = np.zeros(len(a))
        for field, (agree, differ) in POINTS.items():
            points += np.where(same[field], agree, 0) + np.where(differs[field], differ, 0)
        # :func:`name_similarity`, from the batch scorer's values, where the names are not the same.
        similarity = np.full(len(a), 100.0)
        other = np.flatnonzero(alive & ~identical)
        if len(other):
            ia, ib = a[other], b[other]
            whole = cpdist(
                self.name[ia].tolist(),
                self.name[ib].tolist(),
                scorer=fuzz.token_sort_ratio,
                score_cutoff=NAME_CUTOFF,
                dtype=np.float64,
            )
            firsts = cpdist(
                self.first[ia].tolist(), self.first[ib].tolist(), scorer=fuzz.ratio, dtype=np.float64
            )
            lasts = cpdist(
                self.last[ia].tolist(), self.last[ib].tolist(), scorer=fuzz.ratio, dtype=np.float64
            )
            straight = np.minimum(firsts, lasts)
            swapped = np.where(whole >= 100, 100.0, 0.0)
            both_lasts = (self.last[ia] != "") & (self.last[ib] != "")
            similarity[other] = np.where(
                both_lasts, np.where(straight >= 100, straight, np.maximum(straight, swapped)), whole
            )
            if name_window:  # only neighbours whose full names are alike at all, as :func:`pairs_by_name`
                alive[other[whole < NAME_CUTOFF]] = False
        alive &= (similarity >= NAME_CUTOFF) | same["email"]
        alive &= similarity / 2 + points >= THRESHOLD - 1  # a point of margin: :func:`score_pair` decides
        for i, j in zip(a[alive].tolist(), b[alive].tolist(), strict=True):
            match = score_pair(self.person(j), self.person(i))
            if match is not None:
                yield match


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


def pairs_by_name_fast(rows: Iterable[Row], window: int = WINDOW, chunk: int = FAST_CHUNK) -> Iterator[Match]:
    """The pairs of :func:`pairs_by_name` over ``people(rows)``, found a chunk of rows at a time."""
    city_of = _Cities()
    carry: list[Row] = []  # the last ``window`` rows of the chunk before: the new ones' neighbours
    for new in _chunks(rows, chunk):
        data = carry + new
        columns = _Chunk(data, city_of)
        start = len(carry)
        for step in range(1, window + 1):
            later = np.arange(max(start, step), len(data))
            yield from columns.matches(later - step, later, name_window=True)
        carry = data[-window:]


def pairs_by_phone_fast(
    rows: Iterable[Row], cap: int = PHONE_GROUP_CAP, chunk: int = FAST_CHUNK
) -> Iterator[Match]:
    """The pairs of :func:`pairs_by_phone` over ``people(rows)`` (rows in phone order), a chunk at a time."""
    city_of = _Cities()
    carry: list[Row] = []  # the first ``cap`` rows of the last number of the chunk before
    for new in _chunks(rows, chunk):
        data = carry + [row for row in new if row[4]]
        if not data:
            continue
        columns = _Chunk(data, city_of)
        start, size = len(carry), len(data)
        phone = columns.phone
        starts_group = np.ones(size, dtype=bool)
        starts_group[1:] = phone[1:] != phone[:-1]
        group_start = np.maximum.accumulate(np.where(starts_group, np.arange(size), 0))
        position = np.arange(size) - group_start  # place within its number's group
        for step in range(1, cap):
            later = np.arange(max(start, step), size)
            later = later[(position[later] >= step) & (position[later] < cap)]
            yield from columns.matches(later - step, later, name_window=False)
        last = int(group_start[-1])
        carry = data[last : last + cap]
