"""Whether two customers are one person: the duplicate finder's scoring, on plain values.

A pair is scored on everything the file knows about both people at once: the name (how alike), the
e-mail, the phone, the company's tax id, the company and the city (each the same, different, or
unknown on one side). What agrees adds points, what contradicts takes some away, and what one side
does not know counts for nothing. The import's own rule holds here too: two records whose e-mails
*and* phones are both known and both different are different people, and are never proposed, unless
everything else (full name, company and city) is the same.

Candidates come from two passes that keep memory flat whatever the size of the file: customers read
in name order, each compared with the few that follow it (sorted neighbourhood), and customers read
in phone order, each compared with the others sharing its number. Nothing here touches the database.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from rapidfuzz import fuzz

# A pair is proposed from this score (0-100) up.
THRESHOLD = 40
# How many following customers (in name order) each one is compared with.
WINDOW = 6
# Names less alike than this are different people, whatever else they share (a family's landline),
# unless the e-mail is the same.
NAME_CUTOFF = 60
# A phone shared by more people than this (a shop's switchboard) is compared among the first ones only.
PHONE_GROUP_CAP = 20

POINTS = {
    "email": (35, -10),  # same, different
    "phone": (30, -10),
    "tax_id": (15, -15),
    "company": (10, -10),
    "city": (10, -5),
}


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
