"""``cartera surveys triggers``: invite the customers matching each automatic survey now (the refresh
does it after every run); ``cartera surveys audits``: the submitted audit scores by location."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartera.core.commands import LanguageCommand
from cartera.surveys.models import Survey
from cartera.surveys.selectors.audits import score_trends
from cartera.surveys.services.triggers import triggers_run


class Command(LanguageCommand):
    help = "Run the automatic survey triggers, or list the audit scores by location / channel / employee."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "triggers", help="Invite the customers matching each automatic survey (frequency cap applies)."
        )
        audits = sub.add_parser("audits", help="Mean submitted audit score by location, channel or employee.")
        audits.add_argument("--by", choices=["location", "channel", "employee"], default="location")
        audits.add_argument(
            "--as-user", required=True, help="Whose view of the audits (a manager's username)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "triggers":
            sent = triggers_run()
            names = dict(Survey.objects.filter(pk__in=sent).values_list("pk", "name"))
            for pk, count in sent.items():
                self.stdout.write(f"{names.get(pk, pk)}: {count}")
            if not sent:
                self.stdout.write(_("No automatic survey found anyone to ask."))
            return
        user = get_user_model().objects.filter(username=options["as_user"], is_active=True).first()
        if user is None:
            raise CommandError(_("No active user '%(username)s'.") % {"username": options["as_user"]})
        for row in score_trends(user=user, dimension=options["by"]):
            months = "  ".join(f"{p['month']}: {p['score']}" for p in row["points"])
            audits = ngettext("(%(n)s audit)", "(%(n)s audits)", row["audits"]) % {"n": row["audits"]}
            self.stdout.write(f"{row['name']}\t{row['mean']}\t{audits}\t{months}")
