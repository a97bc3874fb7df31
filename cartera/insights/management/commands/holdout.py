"""``cartera holdout``: how good the predictions are, checked on the portfolio's own history."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from rich.console import Console
from rich.table import Table

from cartera.core.commands import LanguageCommand
from cartera.customers.classification import Lifecycle
from cartera.insights.services import backtest_run


def _pct(value: float | None) -> str:
    return _("n/a") if value is None else f"{value:.1%}"


def _num(value: float | None, places: int = 3) -> str:
    return _("n/a") if value is None else f"{value:.{places}f}"


class Command(LanguageCommand):
    help = (
        "Calibrate the purchase models on the orders up to a cut-off, predict the following period and "
        "compare with what customers really did: total error, mean by calibration purchases, AUC of every "
        "score for 'buys again', calibration of the shown probability and the return rate of each status. "
        "The result is stored and shown on the page 'How good are these predictions?'."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--cutoff",
            "--calibration-end",
            dest="cutoff",
            type=dt.date.fromisoformat,
            help="last day of the calibration period (default: half the history, at most a year, before the end)",
        )
        parser.add_argument(
            "--end",
            type=dt.date.fromisoformat,
            help="last day of the checked period (default: the last order)",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the result as JSON (schema in docs/analytics.md)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            row = backtest_run(cutoff=options["cutoff"], holdout_end=options["end"], trigger="command")
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        result = row.result
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, ensure_ascii=False))
            return
        console = Console(file=self.stdout, width=110)  # type: ignore[arg-type]  # OutputWrapper writes like a file
        console.print(
            _(
                "Calibration up to %(cutoff)s, checked until %(end)s (%(weeks).1f weeks); "
                "%(customers)s customers, %(came_back)s bought again."
            )
            % {
                "cutoff": result["cutoff"],
                "end": result["holdout_end"],
                "weeks": result["holdout_weeks"],
                "customers": f"{result['customers']:,}",
                "came_back": f"{result['came_back']:,}",
            }
        )
        models = Table(title=_("Models (AUC for 'buys again': 0.5 = chance, 1 = perfect)"))
        for column in (
            _("model"), _("predicted"), _("actual"), _("error"), _("AUC P(alive)"), _("AUC expected"),
            _("AUC P(buy 90 d)"), "ECE", "Brier",
        ):  # fmt: skip
            models.add_column(column, justify="right")
        for name, m in result["models"].items():
            models.add_row(
                name + (" *" if name == result["shown_model"] else ""),
                f"{m['predicted_total']:,.0f}", f"{m['actual_total']:,}", _pct(m["total_error"]),
                _num(m["auc_p_alive"]), _num(m["auc_expected"]), _num(m["auc_p_purchase"]),
                _num(m["ece"]), _num(m["brier"]),
            )  # fmt: skip
        console.print(models)
        console.print(
            _(
                "* shown: %(score)s (AUC %(auc)s, calibration error %(ece)s); "
                "plain recency (days since last purchase): AUC %(recency)s."
            )
            % {
                "score": result["shown_score"],
                "auc": _num(result["auc_shown_score"]),
                "ece": _num(result["ece_shown_score"]),
                "recency": _num(result["auc_recency"]),
            }
        )
        shown = result["models"][result["shown_model"]]
        by_x = Table(title=_("Repeat purchases in the checked period, by purchases before the cut-off"))
        for column in (_("purchases before"), _("customers"), _("predicted (mean)"), _("actual (mean)")):
            by_x.add_column(column, justify="right")
        for label, n, pred, act in shown["by_frequency"]:
            by_x.add_row(label, f"{n:,}", f"{pred:.3f}", f"{act:.3f}")
        console.print(by_x)
        statuses = Table(title=_("Status at the cut-off: how many bought again"))
        for column in (_("status"), _("customers"), _("bought again")):
            statuses.add_column(column, justify="right")
        labels = dict(
            Lifecycle.choices
        )  # the statuses by name, in the run's language (--json keeps the codes)
        for status, rate in sorted(result["status_return_rates"].items(), key=lambda kv: -kv[1]):
            statuses.add_row(
                str(labels.get(status, status)), f"{result['status_counts'][status]:,}", _pct(rate)
            )
        console.print(statuses)
        console.print(
            _("Spend vs frequency correlation (Gamma-Gamma check): %(value)s")
            % {"value": _num(result["spend_correlation"], 2)}
        )
