"""``cartera privacy``: the access export, erasure and retention from the command line.

cartera privacy export 42 [--format json|html] [--output file] [--user name]
cartera privacy erase 42 --user manager --confirm "ERASE 42" [--reason objection]
cartera privacy retention [--dry-run] [--background] [--schedule]
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError
from django.http import Http404
from django.utils.translation import gettext as _

from cartera.accounts.models import User
from cartera.core.commands import LanguageCommand
from cartera.core.scoping import get_for_user
from cartera.customers.models import Customer
from cartera.privacy import services
from cartera.privacy.retention import retention_run
from cartera.privacy.tasks import retention_schedule, run_retention


class Command(LanguageCommand):
    help = "Personal data: export everything held about a person, erase a person, apply retention."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        export = sub.add_parser("export", help="everything held about a customer (GDPR Art. 15)")
        export.add_argument("customer_id", type=int)
        export.add_argument("--format", choices=["json", "html"], default="json")
        export.add_argument("--output", help="file to write (default: standard output)")
        export.add_argument("--user", help="act as this user (their scope applies; default: the operator)")
        export.add_argument(
            "--language", default="", help="language of the document when the person's is unknown"
        )
        erase = sub.add_parser("erase", help="anonymise a customer for good (GDPR Art. 17 / 21)")
        erase.add_argument("customer_id", type=int)
        erase.add_argument("--user", required=True, help="the manager or admin who erases")
        erase.add_argument("--confirm", required=True, help='type "ERASE <id>"')
        erase.add_argument("--reason", choices=["erasure", "objection"], default="erasure")
        retention = sub.add_parser("retention", help="remove what is past its retention period")
        retention.add_argument("--dry-run", action="store_true", help="only report what would be removed")
        retention.add_argument("--background", action="store_true", help="queue a run for the worker")
        retention.add_argument(
            "--schedule",
            action="store_true",
            help="queue the nightly run in the worker (it re-queues itself)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _user(self, name: str | None) -> User | None:
        if not name:
            return None
        user = User.objects.filter(username=name, is_active=True).first()
        if user is None:
            raise CommandError(_("No active user called '%(username)s'.") % {"username": name})
        return user

    def _customer(self, user: User | None, pk: int) -> Customer:
        try:
            if user is None:
                return Customer.objects.get(pk=pk)
            return get_for_user(Customer.objects.all(), user, "view", pk=pk)
        except (Customer.DoesNotExist, Http404) as exc:
            raise CommandError(_("No customer %(id)s.") % {"id": pk}) from exc

    def _export(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        customer = self._customer(user, options["customer_id"])
        export = services.personal_data_export(
            actor=user, customer=customer, language=options["language"] or settings.LANGUAGE_CODE
        )
        text = export.json if options["format"] == "json" else export.html
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stdout.write(
                _("Wrote %(file)s (%(language)s).") % {"file": options["output"], "language": export.language}
            )
        else:
            self.stdout.write(text)

    def _erase(self, options: dict[str, Any]) -> None:
        user = self._user(options["user"])
        assert user is not None
        customer = self._customer(user, options["customer_id"])
        try:
            report = services.customer_erase(
                actor=user, customer=customer, confirmation=options["confirm"], reason=options["reason"]
            )
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        rows = ", ".join(f"{k}: {n}" for k, n in report.rows.items())
        self.stdout.write(
            self.style.SUCCESS(
                _("Customer %(id)s erased (%(rows)s).") % {"id": report.customer_id, "rows": rows}
            )
        )

    def _retention(self, options: dict[str, Any]) -> None:
        if options["schedule"]:
            queued = retention_schedule()
            self.stdout.write(
                _("Nightly retention queued.") if queued else _("A retention run is already queued.")
            )
            return
        if options["background"]:
            result = run_retention.enqueue(reschedule=False)
            self.stdout.write(_("Queued retention (task %(id)s).") % {"id": result.id})
            return
        report = retention_run(dry_run=options["dry_run"])
        line = _("%(kind)s: dry run: would remove %(n)s") if report.dry_run else _("%(kind)s: removed %(n)s")
        for kind, n in report.counts.items():
            self.stdout.write(line % {"kind": kind, "n": n})
