"""``cartera holdout``: how well the purchase model predicts, on your own data."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rich.console import Console
from rich.table import Table

from cartera.insights.analysis import holdout_check
from cartera.insights.selectors import order_arrays
from customerbase import NotEnoughDataError


class Command(BaseCommand):
    help = (
        "Calibrate the BG/NBD model on the first half of a period, predict the second half and compare "
        "with what customers really did (total, by number of calibration purchases, AUC of P(alive))."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--start", type=dt.date.fromisoformat, help="first day (default: the first order)"
        )
        parser.add_argument("--end", type=dt.date.fromisoformat, help="last day (default: today)")
        parser.add_argument("--calibration-end", type=dt.date.fromisoformat, help="default: the middle")

    def handle(self, *args: Any, **options: Any) -> None:
        orders = order_arrays()
        if len(orders) == 0:
            raise CommandError("There are no orders to check the model on.")
        start = options["start"] or orders.days.min().astype(dt.date)
        end = options["end"] or timezone.localdate()
        try:
            report = holdout_check(orders, start=start, end=end, calibration_end=options["calibration_end"])
        except NotEnoughDataError as exc:
            raise CommandError(f"Not enough data to fit the model: {exc}") from exc
        console = Console(file=self.stdout, width=100)  # type: ignore[arg-type]  # OutputWrapper writes like a file
        console.print(
            f"Calibration {report.calibration_start} → {report.calibration_end}, holdout to {report.holdout_end}; "
            f"{report.customers:,} customers. BG/NBD: "
            + ", ".join(f"{k} = {v:.3f}" for k, v in report.params.items())
        )
        table = Table(title="Repeat purchases in the holdout period")
        for column in ("purchases in calibration", "customers", "predicted (mean)", "actual (mean)"):
            table.add_column(column, justify="right")
        for label, n, pred, act in report.by_frequency:
            table.add_row(label, f"{n:,}", f"{pred:.3f}", f"{act:.3f}")
        console.print(table)
        error = (report.predicted_total - report.actual_total) / max(report.actual_total, 1)
        console.print(
            f"Total: predicted {report.predicted_total:,.0f}, actual {report.actual_total:,} ({error:+.1%})."
        )
        console.print("AUC for 'buys again in the holdout' (0.5 = chance, 1 = perfect):")
        for label, value in (
            ("P(alive), BG/NBD", report.auc_p_alive),
            ("P(alive), Pareto/NBD", report.auc_p_alive_pareto),
            ("expected purchases, BG/NBD", report.auc_expected),
        ):
            console.print(f"  {label}: {'n/a' if value is None else f'{value:.3f}'}")
