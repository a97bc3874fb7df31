"""``cartera demo``: load the demo portfolio into an empty customer file."""

from __future__ import annotations

import datetime as dt
from typing import IO, Any, cast

from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from cartera.accounts import roles
from cartera.core.commands import LanguageCommand
from cartera.customers.models import Customer, Stage
from cartera.demo.generator import (
    BIG_CUSTOMERS,
    DEFAULT_ORDERS_PER_CUSTOMER,
    DEMO_PASSWORD,
    DEMO_USERS,
    DemoError,
    generate_demo,
)

# The generator's steps (cartera/demo/generator.py names them in English), as the progress bars show them.
STEP_LABELS = {
    "Customers": gettext_lazy("Customers"),
    "Orders": gettext_lazy("Orders"),
    "Companies": gettext_lazy("Companies"),
    "Tasks": gettext_lazy("Tasks"),
    "Indexes": gettext_lazy("Indexes"),
}


class Command(LanguageCommand):
    help = (
        "Generate a deterministic demo portfolio (customers, companies, three years of orders, "
        "interactions, tasks) and the demo users. The customer file must be empty."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--customers", type=int, default=2000, help="How many customers (default 2000).")
        parser.add_argument(
            "--big",
            action="store_true",
            help=f"Benchmark size: {BIG_CUSTOMERS:,} customers and about 10,000,000 orders.",
        )
        parser.add_argument("--seed", type=int, default=2026, help="Random seed (default 2026).")
        parser.add_argument(
            "--orders-per-customer",
            type=float,
            default=DEFAULT_ORDERS_PER_CUSTOMER,
            help=f"Average orders per customer over three years (default {DEFAULT_ORDERS_PER_CUSTOMER:g}).",
        )
        parser.add_argument(
            "--today",
            type=dt.date.fromisoformat,
            default=None,
            help="Pretend today is this date (YYYY-MM-DD); orders cover the three years before it.",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing (successfully) when the customer file already has customers.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        customers = BIG_CUSTOMERS if options["big"] else options["customers"]
        if customers < 1:
            raise CommandError(_("--customers must be at least 1."))
        if options["orders_per_customer"] <= 0:
            raise CommandError(_("--orders-per-customer must be positive."))
        existing = Customer.objects.exists()
        if existing and options["if_empty"]:
            if options["verbosity"] >= 1:
                self.stdout.write(_("The customer file already has customers; no demo data loaded."))
            return
        if existing:
            raise CommandError(
                _(
                    "The customer file is not empty; the demo portfolio only goes into an empty database. "
                    "Use --if-empty to skip quietly, or point DATABASE_URL at a fresh database."
                )
            )
        # The raw stream: Django's wrapper would add a newline after every piece rich writes.
        console = Console(file=cast(IO[str], self.stdout._out), highlight=False)
        quiet = options["verbosity"] < 1
        with Progress(
            TextColumn("{task.description:<13}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
            transient=False,
        ) as bar:
            tasks: dict[str, Any] = {}

            def progress(step: str, done: int, total: int) -> None:
                if step not in tasks:
                    tasks[step] = bar.add_task(str(STEP_LABELS.get(step, step)), total=total)
                bar.update(tasks[step], completed=done, total=total)

            try:
                stats = generate_demo(
                    customers=customers,
                    seed=options["seed"],
                    today=options["today"],
                    progress=progress,
                    orders_per_customer=options["orders_per_customer"],
                )
            except DemoError as exc:
                raise CommandError(str(exc)) from exc
        if quiet:
            return
        # Stages and roles by their labels, in the run's language (the codes are English words).
        stage_labels = dict(Stage.choices)
        stages = ", ".join(
            f"{stage_labels.get(stage, stage)}: {count:,}" for stage, count in sorted(stats.stages.items())
        )
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Demo portfolio loaded in %(seconds).1f s: %(customers)s customers (%(stages)s), "
                    "%(companies)s companies, %(orders)s orders, %(interactions)s interactions, %(tasks)s tasks."
                )
                % {
                    "seconds": stats.seconds,
                    "customers": f"{stats.customers:,}",
                    "stages": stages,
                    "companies": f"{stats.companies:,}",
                    "orders": f"{stats.orders:,}",
                    "interactions": f"{stats.interactions:,}",
                    "tasks": f"{stats.tasks:,}",
                }
            )
        )
        self.stdout.write(_("Demo logins (password '%(password)s'):") % {"password": DEMO_PASSWORD})
        for user in DEMO_USERS:
            self.stdout.write(f"  {user.username:<8} {roles.ROLE_LABELS.get(user.role, user.role)}")
