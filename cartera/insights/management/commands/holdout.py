"""``cartera holdout``: how good the predictions are, checked on the portfolio's own history."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from rich.console import Console
from rich.table import Table

from cartera.core.commands import LanguageCommand
from cartera.insights.services import backtest_run


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _num(value: float | None, places: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{places}f}"


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
            f"Calibration up to {result['cutoff']}, checked until {result['holdout_end']} "
            f"({result['holdout_weeks']:.1f} weeks); {result['customers']:,} customers, "
            f"{result['came_back']:,} bought again."
        )
        models = Table(title="Models (AUC for 'buys again': 0.5 = chance, 1 = perfect)")
        for column in (
            "model", "predicted", "actual", "error", "AUC P(alive)", "AUC expected", "AUC P(buy 90 d)", "ECE", "Brier",
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
            f"* shown: {result['shown_score']} (AUC {_num(result['auc_shown_score'])}, calibration error "
            f"{_num(result['ece_shown_score'])}); plain recency (days since last purchase): AUC "
            f"{_num(result['auc_recency'])}."
        )
        shown = result["models"][result["shown_model"]]
        by_x = Table(title="Repeat purchases in the checked period, by purchases before the cut-off")
        for column in ("purchases before", "customers", "predicted (mean)", "actual (mean)"):
            by_x.add_column(column, justify="right")
        for label, n, pred, act in shown["by_frequency"]:
            by_x.add_row(label, f"{n:,}", f"{pred:.3f}", f"{act:.3f}")
        console.print(by_x)
        statuses = Table(title="Status at the cut-off: how many bought again")
        for column in ("status", "customers", "bought again"):
            statuses.add_column(column, justify="right")
        for status, rate in sorted(result["status_return_rates"].items(), key=lambda kv: -kv[1]):
            statuses.add_row(status, f"{result['status_counts'][status]:,}", _pct(rate))
        console.print(statuses)
        console.print(
            f"Spend vs frequency correlation (Gamma-Gamma check): {_num(result['spend_correlation'], 2)}"
        )
