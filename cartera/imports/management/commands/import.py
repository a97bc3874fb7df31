"""``cartera import FILE``: check or import a customer, order or interaction file, with progress."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.http import Http404
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn


class Command(BaseCommand):
    help = "Import a CSV, XLSX, ODS or vCard file (--dry-run checks it and writes nothing)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", nargs="?", type=Path)
        parser.add_argument("--kind", default="customers", choices=["customers", "orders", "interactions"])
        parser.add_argument("--user", required=True, help="username the import acts for (and is recorded as)")
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--mapping", help="name of a saved mapping")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help="read COLUMN into FIELD (COLUMN= leaves the column out); an unknown field is refused",
        )
        parser.add_argument(
            "--create-customers",
            action="store_true",
            help="orders: create the customers the portfolio lacks from the order rows",
        )
        parser.add_argument("--save-mapping", default="", metavar="NAME")
        parser.add_argument(
            "--on-duplicate", default="skip", choices=["skip", "update_empty", "overwrite", "create"]
        )
        parser.add_argument("--date-order", default="dmy", choices=["dmy", "mdy"])
        parser.add_argument("--no-decimal-comma", action="store_true")
        parser.add_argument("--phone-region", default="")
        parser.add_argument(
            "--source", default="", help="the customers' source (default: from --list-origin)"
        )
        parser.add_argument("--source-detail", default="")
        parser.add_argument("--lawful-basis", default="")
        parser.add_argument(
            "--list-origin", default="own", choices=["own", "purchased", "event", "other"],
            help="where a customer list comes from (a purchased one needs --lawful-basis)",
        )  # fmt: skip
        parser.add_argument("--resume", type=int, metavar="JOB_ID", help="continue an interrupted import")
        parser.add_argument("--rollback", type=int, metavar="JOB_ID", help="undo an import")

    def handle(self, *args: Any, **options: Any) -> None:
        from cartera.accounts.models import User
        from cartera.imports import selectors, services

        console = Console(file=self.stdout, width=100)  # type: ignore[arg-type]
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"No active user {options['user']!r}.")
        try:
            if options["rollback"] or options["resume"]:
                try:
                    job = selectors.import_job_get(
                        user=user, pk=options["rollback"] or options["resume"], action="change"
                    )
                except (Http404, PermissionDenied) as exc:
                    raise CommandError(
                        f"{user} has no import {options['rollback'] or options['resume']}."
                    ) from exc
                if options["rollback"]:
                    job = services.import_job_rollback(actor=user, job=job)
                    console.print(f"Import {job.pk} rolled back. {job.message}")
                    for record in selectors.rollback_conflicts(user=user, job=job)[:100]:
                        console.print(
                            f"  kept {record.model} {record.object_id} (row {record.row_number}): {record.conflict}"
                        )
                    return
            else:
                if not options["file"]:
                    raise CommandError("Give a FILE, --resume or --rollback.")
                if not selectors.can_import(user, options["kind"]):
                    raise CommandError(f"{user} may not import {options['kind']}.")
                job = services.import_job_create_from_path(
                    actor=user, path=options["file"], kind=options["kind"], list_origin=options["list_origin"]
                )
                columns = dict(job.columns)
                if options["mapping"]:
                    saved = (
                        selectors.mapping_list(user=user, kind=job.kind)
                        .filter(name=options["mapping"])
                        .first()
                    )
                    if saved is None:
                        raise CommandError(f"No saved mapping {options['mapping']!r}.")
                    job = services.import_mapping_apply(job=job, mapping=saved)
                    columns = dict(job.columns)
                for item in options["map"]:
                    column, _sep, field = item.partition("=")
                    columns[column] = field
                try:
                    services.import_job_configure(
                        actor=user,
                        job=job,
                        columns=columns,
                        options={
                            "date_order": options["date_order"],
                            "decimal_comma": not options["no_decimal_comma"],
                            "phone_region": options["phone_region"].upper(),
                            "create_customers": options["create_customers"],
                        },
                        duplicate_policy=options["on_duplicate"],
                        source=options["source"],
                        source_detail=options["source_detail"],
                        lawful_basis=options["lawful_basis"],
                        save_as=options["save_mapping"],
                    )
                except ValidationError:
                    services.import_job_abandon(actor=user, job=job)
                    raise
                console.print("Columns: " + ", ".join(f"{h} → {f}" for h, f in job.columns.items()))
                ignored = services.ignored_columns(job)
                if ignored:
                    console.print("Not imported: " + ", ".join(ignored))
            with Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=console,
            ) as bar:  # fmt: skip
                task = bar.add_task(
                    "Checking" if options["dry_run"] else "Importing", total=job.total_rows or None
                )

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total or None)

                job = services.import_job_run(job=job, dry_run=options["dry_run"], progress=progress)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        r = job.report
        verb = "would be" if options["dry_run"] else "were"
        console.print(
            f"Job {job.pk}: {r.get('rows', 0)} rows; {r['create']} {verb} created, {r['update']} updated, "
            f"{r.get('unchanged', 0)} unchanged, {r['duplicate']} duplicates, {r['skip']} skipped, "
            f"{r['error']} with errors."
        )
        if r.get("customers"):
            console.print(f"Customers {verb} created from the orders: {r['customers']}.")
        if r.get("ignored"):
            console.print("Not imported: " + ", ".join(r["ignored"]))
        for error in selectors.rejected_rows(user=user, job=job)[:20]:
            console.print(f"  row {error.row_number} {error.column} {error.value!r}: {error.reason}")
        for note in selectors.row_notes(user=user, job=job)[:50]:
            customer = f" customer #{note.customer_id}" if note.customer_id else ""
            cell = f" {note.column} {note.value!r}" if note.column else ""
            console.print(
                f"  row {note.row_number} {note.get_outcome_display()}{customer}{cell}: {note.reason}"
            )
