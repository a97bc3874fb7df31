"""The customer list's table rows, written in Python.

The list (and every search) renders 50 rows of nine cells: through the template engine that was
about a third of the request's CPU (docs/benchmarks.md, "Load"). ``{% customer_rows rows %}`` writes
the same markup, character for character, as its plain twin ``customers/_rows.html``, which is used
instead when ``CARTERA_BULK_PLAIN`` asks for plain twins (:func:`cartera.core.bulk.fast_paths`);
``tests/customers/test_list_rows.py`` compares the two.
"""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.core.exceptions import ObjectDoesNotExist
from django.template.defaultfilters import date as date_filter
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from cartera.core.bulk import fast_paths
from cartera.core.contact import format_phone
from cartera.core.money import format_money
from cartera.customers.models import Customer

register = template.Library()

_PK_MARK = 987654321  # a pk no real URL contains twice, to cut the detail URL around


@register.simple_tag
def customer_rows(rows: Iterable[Customer]) -> SafeString:
    if not fast_paths():
        return mark_safe(render_to_string("customers/_rows.html", {"rows": rows}))  # noqa: S308 - template output
    return _write_rows(list(rows))


def _write_rows(rows: list[Customer]) -> SafeString:
    e = conditional_escape
    labels = {
        key: e(gettext(text))
        for key, text in [
            ("name", "Name"), ("company", "Company"), ("email", "Email"), ("phone", "Phone"),
            ("stage", "Stage"), ("status", "Status"), ("revenue", "Revenue"), ("last", "Last purchase"),
            ("owner", "Owner"),
        ]
    }  # fmt: skip
    if not rows:
        empty = e(gettext("No customer matches."))
        return mark_safe(f'\n<tr><td colspan="9" class="muted">{empty}</td></tr>\n')  # noqa: S308 - escaped
    before, after = (e(part) for part in reverse("customers:detail", args=[_PK_MARK]).split(str(_PK_MARK)))
    declining_title = e(gettext("orders declining"))
    out: list[str] = []
    for c in rows:
        company = c.company.name if c.company else ""
        phone = f'<a href="tel:{e(c.phone)}">{e(format_phone(c.phone))}</a>' if c.phone else ""
        try:
            m = c.metrics
        except ObjectDoesNotExist:
            m = None
        if m:
            declining = (
                f' <span class="badge declining" title="{declining_title}">↘</span>' if m.declining else ""
            )
            analysis = (
                f'<td data-label="{labels["status"]}"><span class="badge life-{e(m.lifecycle)}">'
                f"{e(m.get_lifecycle_display())}</span>{declining}</td>"
                f'<td data-label="{labels["revenue"]}" class="num">{e(format_money(m.revenue, None))}</td>'
                f'<td data-label="{labels["last"]}" class="wide-only">{e(date_filter(m.last_order_on, "SHORT_DATE_FORMAT"))}</td>'
            )
        else:
            analysis = '<td colspan="3" class="nometrics"></td>'
        out.append(
            f'\n<tr><td data-label="{labels["name"]}"><a href="{before}{c.pk}{after}">{e(c.full_name)}</a></td>'
            f'<td data-label="{labels["company"]}">{e(company)}</td>'
            f'<td data-label="{labels["email"]}" class="wide-only">{e(c.email or "")}</td>'
            f'<td data-label="{labels["phone"]}">{phone}</td>'
            f'<td data-label="{labels["stage"]}"><span class="badge stage-{e(c.stage)}">{e(c.get_stage_display())}</span></td>'
            f"{analysis}"
            f'<td data-label="{labels["owner"]}" class="wide-only">{e(str(c.owner)) if c.owner_id else "—"}</td></tr>'
        )
    out.append("\n")  # the template's last line break
    return mark_safe("".join(out))  # noqa: S308 - every value escaped above
