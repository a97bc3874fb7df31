"""``cartera import FILE``: check or import a customer, order or interaction file, with progress.

Everything it prints (summary, row messages, errors) is in one language: ``--lang``, else
``CARTERA_LANG``, else the default language (:mod:`cartera.core.commands`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError
from django.http import Http404
from django.utils.translation import gettext as _
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from cartera.core.commands import LanguageCommand


class Command(LanguageCommand):
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
        parser.add_argument(
            "--currency",
            default="",
            metavar="CODE",
            help="orders: ISO 4217 code of the amounts whose row names none (default: "
            "CARTERA_DEFAULT_CURRENCY); a currency column overrides it row by row",
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
        from cartera.imports.models import ImportKind

        console = Console(file=self.stdout, width=100)  # type: ignore[arg-type]

        def say(text: str) -> None:
            console.print(escape(text))

        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(_("No active user “%(user)s”.") % {"user": options["user"]})
        self.speak_as(user)
        try:
            if options["rollback"] or options["resume"]:
                try:
                    job = selectors.import_job_get(
                        user=user, pk=options["rollback"] or options["resume"], action="change"
                    )
                except (Http404, PermissionDenied) as exc:
                    raise CommandError(
                        _("%(user)s has no import %(id)s.")
                        % {"user": user, "id": options["rollback"] or options["resume"]}
                    ) from exc
                if options["rollback"]:
                    job = services.import_job_rollback(actor=user, job=job)
                    say(_("Import %(id)s rolled back. %(message)s") % {"id": job.pk, "message": job.message})
                    for record in selectors.rollback_conflicts(user=user, job=job)[:100]:
                        say(
                            "  "
                            + _("kept %(model)s %(id)s (row %(row)s): %(reason)s")
                            % {
                                "model": record.model,
                                "id": record.object_id,
                                "row": record.row_number,
                                "reason": record.conflict,
                            }
                        )
                    return
            else:
                if not options["file"]:
                    raise CommandError(_("Give a FILE, --resume or --rollback."))
                if not selectors.can_import(user, options["kind"]):
                    raise CommandError(
                        _("%(user)s may not import %(kind)s.")
                        % {"user": user, "kind": str(ImportKind(options["kind"]).label).lower()}
                    )
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
                        raise CommandError(_("No saved mapping “%(name)s”.") % {"name": options["mapping"]})
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
                        currency=options["currency"],
                    )
                except ValidationError:
                    services.import_job_abandon(actor=user, job=job)
                    raise
                say(
                    _("Columns: %(columns)s")
                    % {"columns": ", ".join(f"{h} → {f}" for h, f in job.columns.items())}
                )
                if job.kind == ImportKind.ORDERS:
                    say(
                        _("Currency of the amounts whose row names none: %(currency)s.")
                        % {"currency": job.currency}
                    )
                ignored = services.ignored_columns(job)
                if ignored:
                    say(_("Not imported: %(columns)s") % {"columns": ", ".join(ignored)})
            with Progress(
                "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                console=console,
            ) as bar:  # fmt: skip
                task = bar.add_task(
                    _("Checking") if options["dry_run"] else _("Importing"), total=job.total_rows or None
                )

                def progress(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total or None)

                job = services.import_job_run(job=job, dry_run=options["dry_run"], progress=progress)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from exc
        r = job.report
        counts = {
            "id": job.pk,
            "rows": r.get("rows", 0),
            "create": r["create"],
            "update": r["update"],
            "unchanged": r.get("unchanged", 0),
            "duplicate": r["duplicate"],
            "skip": r["skip"],
            "error": r["error"],
        }
        if options["dry_run"]:
            say(
                _(
                    "Job %(id)s: %(rows)s rows; %(create)s would be created, %(update)s updated, "
                    "%(unchanged)s unchanged, %(duplicate)s duplicates, %(skip)s skipped, "
                    "%(error)s with errors."
                )
                % counts
            )
        else:
            say(
                _(
                    "Job %(id)s: %(rows)s rows; %(create)s were created, %(update)s updated, "
                    "%(unchanged)s unchanged, %(duplicate)s duplicates, %(skip)s skipped, "
                    "%(error)s with errors."
                )
                % counts
            )
        if r.get("customers"):
            if options["dry_run"]:
                text = _("Customers would be created from the orders: %(n)s.")
            else:
                text = _("Customers were created from the orders: %(n)s.")
            say(text % {"n": r["customers"]})
        if r.get("ignored"):
            say(_("Not imported: %(columns)s") % {"columns": ", ".join(r["ignored"])})
        for error in selectors.rejected_rows(user=user, job=job)[:20]:
            say(
                "  "
                + _("row %(row)s %(column)s %(value)s: %(reason)s")
                % {
                    "row": error.row_number,
                    "column": error.column,
                    "value": repr(error.value),
                    "reason": error.reason,
                }
            )
        for note in selectors.row_notes(user=user, job=job)[:50]:
            customer = _(" customer #%(id)s") % {"id": note.customer_id} if note.customer_id else ""
            cell = f" {note.column} {note.value!r}" if note.column else ""
            say(
                "  "
                + _("row %(row)s %(outcome)s%(customer)s%(cell)s: %(reason)s")
                % {
                    "row": note.row_number,
                    "outcome": note.get_outcome_display(),
                    "customer": customer,
                    "cell": cell,
                    "reason": note.reason,
                }
            )
