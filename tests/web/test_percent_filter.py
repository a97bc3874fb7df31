"""Percentages written as each language writes them."""

from __future__ import annotations

from django.utils import translation

from cartera.web.templatetags.cartera import percent


def test_percent_follows_the_language():
    with translation.override("es"):
        assert percent(0.666, "fraction") == "67\u00a0%"
        assert percent(45) == "45\u00a0%"
    with translation.override("en"):
        assert percent(0.666, "fraction") == "67%"
        assert percent(None) == ""
