"""The names the analysis gives a customer (status, RFM segment, ABC class) and the sentence that
explains a status, in the user's language.

They are declared here, below the ``insights`` app that computes them, so that the customer list,
its filters and the API can show and filter by them without importing the analysis (apps import only
downwards; see docs/architecture.md). ``insights.models`` uses these choices for its columns.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext


class Lifecycle(models.TextChoices):
    """Mirrors :class:`customerbase.lifecycle.LifecycleStatus`."""

    PROSPECT = "prospect", gettext_lazy("Prospect (never bought)")
    NEW = "new", gettext_lazy("New")
    ONE_TIME = "one_time", gettext_lazy("One-time buyer")
    ACTIVE = "active", gettext_lazy("Active")
    AT_RISK = "at_risk", gettext_lazy("At risk")
    INACTIVE = "inactive", gettext_lazy("Inactive")
    LOST = "lost", gettext_lazy("Lost")


class RFMSegment(models.TextChoices):
    """Mirrors :data:`customerbase.rfm.SEGMENTS`."""

    CHAMPIONS = "champions", gettext_lazy("Champions")
    LOYAL = "loyal", gettext_lazy("Loyal")
    POTENTIAL_LOYALISTS = "potential_loyalists", gettext_lazy("Potential loyalists")
    NEW = "new", gettext_lazy("New customers")
    PROMISING = "promising", gettext_lazy("Promising")
    NEED_ATTENTION = "need_attention", gettext_lazy("Need attention")
    ABOUT_TO_SLEEP = "about_to_sleep", gettext_lazy("About to sleep")
    AT_RISK = "at_risk", gettext_lazy("At risk")
    CANT_LOSE = "cant_lose", gettext_lazy("Can't lose them")
    HIBERNATING = "hibernating", gettext_lazy("Hibernating")
    LOST = "lost", gettext_lazy("Lost")


class ABCClass(models.TextChoices):
    A = "A", gettext_lazy("A — first 80% of revenue")
    B = "B", gettext_lazy("B — next 15% of revenue")
    C = "C", gettext_lazy("C — the rest")


def _days(value: Any) -> str:
    if value is None:
        return "?"
    days = round(float(value))
    return ngettext("%(n)d day", "%(n)d days", days) % {"n": days}


def reason_text(code: str, data: dict[str, Any]) -> str:
    """One sentence saying why a customer has their status, e.g. "No purchase for 143 days; ..."."""
    last = _days(data.get("days_since_last"))
    usual = _days(data.get("usual_interval_days"))
    threshold = _days(data.get("threshold_days"))
    factor = data.get("overdue_factor")
    factor_text = number_format(factor, 1) if factor is not None else "?"
    p_alive = data.get("p_alive")
    chance = (
        _("%(percent)s %%") % {"percent": number_format(p_alive * 100, 0)} if p_alive is not None else "?"
    )
    texts = {
        "no_purchase": _("Has not bought anything yet."),
        "first_purchase_recent": _("First purchase %(last)s ago, within the first %(threshold)s.")
        % {"last": last, "threshold": threshold},
        "no_second_purchase": _("Bought once, %(last)s ago, and has not come back for a second purchase.")
        % {"last": last},
        "one_time_long_ago": _("Bought once, %(last)s ago (more than %(threshold)s), and never came back.")
        % {"last": last, "threshold": threshold},
        "stopped_long_ago": _(
            "No purchase for %(last)s (usually every %(usual)s), more than %(threshold)s: lost."
        )
        % {"last": last, "usual": usual, "threshold": threshold},
        "on_rhythm": _("Last purchase %(last)s ago; usually buys every %(usual)s.")
        % {"last": last, "usual": usual},
        "overdue": _("No purchase for %(last)s, %(factor)s times the usual interval of %(usual)s.")
        % {"last": last, "factor": factor_text, "usual": usual},
        "stopped": _(
            "No purchase for %(last)s, %(factor)s times the usual interval of %(usual)s: has stopped buying."
        )
        % {"last": last, "factor": factor_text, "usual": usual},
        "low_p_alive": _(
            "No purchase for %(last)s; usually buys every %(usual)s; probability still active %(chance)s."
        )
        % {"last": last, "usual": usual, "chance": chance},
        "very_low_p_alive": _(
            "No purchase for %(last)s; usually buys every %(usual)s; probability still active only %(chance)s."
        )
        % {"last": last, "usual": usual, "chance": chance},
    }
    return texts.get(code, "")
