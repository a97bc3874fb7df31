"""Suggested personas are named by what sets them apart, and the quality of the split is said in words."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from cartera.segments.models import PersonaSuggestionRun
from cartera.segments.services.persona_suggestions import _names


def group(orders=3, interval=60.0, spend=30.0, web=0.5, ages=(35, 44), regions=("Madrid",)):
    return {"orders": orders, "interval_days": interval if orders > 1 else None, "spend": spend,
            "web_share": web, "age_min": ages[0], "age_max": ages[1], "regions": list(regions)}  # fmt: skip


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


def test_names_say_how_where_and_at_what_age_they_buy():
    names = _names([
        group(orders=1, web=0.95, ages=(25, 34)),
        group(interval=30, web=0.8, ages=(35, 44)),
        group(interval=150, web=0.1, ages=(55, 64)),
        group(spend=120, web=0.5, ages=(45, 54)),
    ])  # fmt: skip
    assert names == [
        "One-time online buyers, 25–34",
        "Frequent online buyers, 35–44",
        "Regular in-store buyers, 55–64",
        "Big spenders, 45–54",
    ]


def test_what_all_groups_share_is_left_out_and_clashes_are_told_apart():
    names = _names(
        [
            group(interval=150, web=0.1, regions=("Madrid", "Toledo")),
            group(interval=160, web=0.2, regions=("Sevilla",)),
            group(interval=30, web=0.9),
        ]
    )
    # Same age everywhere: not in the names. Two "regular in-store" groups: their regions tell them apart.
    assert names == [
        "Regular in-store buyers, Madrid, Toledo",
        "Regular in-store buyers, Sevilla",
        "Frequent online buyers",
    ]
    twins = _names([group(interval=150, spend=20), group(interval=150, spend=40), group(interval=30)])
    assert twins[0] != twins[1] and "€ per order" in twins[0]
    same = _names([group(interval=150), group(interval=150), group(interval=30)])
    assert len(set(same)) == 3


def test_names_are_translated():
    with translation.override("es"):
        names = _names([group(orders=1, web=0.9, ages=(25, 34)), group(interval=20, web=0.9, ages=(35, 44))])
    assert names == ["Compradores online de una sola vez, 25–34", "Compradores online frecuentes, 35–44"]


@pytest.mark.parametrize(
    ("score", "words"),
    [
        (0.71, "clear"),
        (0.5, "clear"),
        (0.32, "some"),
        (0.25, "some"),
        (0.2, "overlap"),
        (None, "unknown"),
    ],  # fmt: skip
)
def test_the_separation_in_words(score, words):
    assert PersonaSuggestionRun(k=3, silhouette=score).separation == words


def test_the_suggestions_page_on_cdnow(client, owner, cdnow_loader, cdnow_end):
    from django.urls import reverse

    from cartera.insights.services import insights_refresh

    cdnow_loader(max_rows=1500)
    insights_refresh(as_of=cdnow_end)
    client.force_login(owner)
    client.post(reverse("segments:persona_suggest"))
    page = client.get(reverse("segments:persona_suggest"), headers={"Accept-Language": "en"})
    run = page.context["run"]
    names = [s["name"] for s in run.suggestions]
    assert len(set(names)) == len(names)
    assert not any(re.search(r"\(\d+\)$", n) for n in names), names
    html = page.content.decode()
    assert "silhouette" not in html.lower()
    assert 'id="separation"' in html and "groups overlap a lot" in html  # CDNOW: 0.21
