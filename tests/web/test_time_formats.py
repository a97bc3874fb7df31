"""Times in English read "3:40 PM": Django's "p.m." doubled the full stop of every sentence that ends
with a time ("Last looked for on 12/03/2026 3:40 p.m..", the duplicates page). Spanish keeps its own
24-hour times."""

from __future__ import annotations

import datetime as dt

from django.template import Context, Template
from django.utils import translation

SENTENCE = Template(
    '{% load i18n %}{% blocktranslate with when=at|date:"SHORT_DATETIME_FORMAT" %}'
    "Last looked for on {{ when }}.{% endblocktranslate %}"
)


def test_a_sentence_ending_with_a_time_ends_with_one_full_stop():
    at = dt.datetime(2026, 12, 3, 15, 40)
    with translation.override("en"):
        assert SENTENCE.render(Context({"at": at})) == "Last looked for on 12/03/2026 3:40 PM."
    with translation.override("es"):
        assert SENTENCE.render(Context({"at": at})) == "Última búsqueda: 03/12/2026 15:40."
