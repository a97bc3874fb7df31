"""The prospect fit score as a segment condition: "fit score ≥ 80" finds the suspects and prospects
who most look like the customers who bring the revenue (``ProspectFit``, written by the worker after
each refresh). Someone with no score (a customer, or a prospect not scored yet) matches only "is
empty".

Segments sit below pipeline, so they never import this: :func:`register` adds the field through
:func:`cartera.segments.rules.register_field`, from ``PipelineConfig.ready()``; the segment rules
check the value's type and range (a fit of 150 is refused with a message) before ``q()`` runs.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cartera.segments.rules import Field, number_q, register_field

PROSPECTING = _("Prospecting")


def fit_score_q(op: str, value: Any, today: dt.date) -> Q:
    return number_q("prospect_fit__score", op, value)


# Built once, so that registering again (Django runs ready() again when a test overrides the
# installed apps) hands segments the very same object.
CONDITIONS: dict[str, Field] = {
    "prospect_fit": Field(_("fit score"), "number", "prospect_fit__score", None, PROSPECTING,
                          bounds=(Decimal(0), Decimal(100)), q=fit_score_q),
}  # fmt: skip


def register() -> None:
    """Add the prospecting conditions to the segment rules."""
    for name, field in CONDITIONS.items():
        register_field(name, field)
