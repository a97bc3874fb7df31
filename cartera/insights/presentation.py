"""Explanations of the analysis in the user's language (the math returns codes and numbers)."""

from __future__ import annotations

from typing import Any

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext


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
