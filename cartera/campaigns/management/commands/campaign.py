"""``cartera campaign``: list, review, send, pause, resume and read the results of campaigns.

cartera campaign list --user marta
cartera campaign review 3 --user marta
cartera campaign send 3 --user marta
cartera campaign pause 3 --user marta | resume 3 --user marta
cartera campaign results 3 --user marta [--json]
cartera campaign replies replies.mbox [more.eml ...]   # log forwarded replies on the timelines
"""

from __future__ import annotations

import email
import email.policy
import json
import mailbox
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import CommandError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from cartera.accounts.models import User
from cartera.campaigns import selectors, services
from cartera.campaigns.models import Campaign
from cartera.core.commands import LanguageCommand


class Command(LanguageCommand):
    help = "Reactivation campaigns: list, review who would receive them, send, pause, resume, results."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="the campaigns")
        listing.add_argument("--user", required=True, help="act as this user")
        for name, text in (
            ("review", "counts per segment and variant, exclusions with reasons, control group"),
            ("send", "freeze the audience and queue the e-mails (the worker sends them)"),
            ("pause", "hold the e-mails not sent yet"),
            ("resume", "send the held e-mails"),
            ("results", "per message and variant, and the lift against the control group"),
        ):
            command = sub.add_parser(name, help=text)
            command.add_argument("campaign_id", type=int)
            command.add_argument("--user", required=True, help="act as this user (a manager to send)")
            if name == "results":
                command.add_argument("--json", action="store_true", help="machine-readable output")
        replies = sub.add_parser(
            "replies", help="log replies to campaign e-mails (.eml files or mbox mailboxes) on the timelines"
        )
        replies.add_argument("files", nargs="+", help="an .eml file (one message) or an mbox (many)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "replies":
            self._replies(options["files"])
            return
        user = User.objects.filter(username=options["user"], is_active=True).first()
        if user is None:
            raise CommandError(_("No active user '%(username)s'.") % {"username": options["user"]})
        try:
            getattr(self, f"_{options['action']}")(user, options)
        except (ValidationError, PermissionDenied) as exc:
            raise CommandError(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
        except Http404 as exc:
            raise CommandError(
                _("No campaign %(id)s that %(user)s may see.")
                % {"id": options.get("campaign_id"), "user": user}
            ) from exc

    def _campaign(self, user: User, options: dict[str, Any], action: str = "view") -> Campaign:
        return selectors.campaign_get(user=user, pk=options["campaign_id"], action=action)

    def _list(self, user: User, options: dict[str, Any]) -> None:
        for campaign in selectors.campaign_list(user=user):
            self.stdout.write(f"{campaign.pk}\t{selectors.shown_status(campaign)}\t{campaign.name}")

    def _review(self, user: User, options: dict[str, Any]) -> None:
        plan = selectors.campaign_plan(campaign=self._campaign(user, options, "change"), user=user)
        self.stdout.write(
            _("receive it: %(treated)s  control group: %(control)s  audience: %(audience)s")
            % {"treated": plan.treated, "control": plan.control, "audience": plan.audience}
        )
        for counts in plan.by_message:
            variants = ", ".join(f"{k}: {v}" for k, v in counts.treated_by_variant.items()) or "0"
            self.stdout.write(
                _("  %(segment)s (%(channel)s): %(variants)s; control %(control)s")
                % {
                    "segment": counts.message.segment.name,
                    "channel": counts.message.channel,
                    "variants": variants,
                    "control": counts.control,
                }
            )
        for reason, n in plan.excluded.most_common():
            self.stdout.write(
                _("  excluded, %(reason)s: %(n)s") % {"reason": selectors.reason_text(reason), "n": n}
            )

    def _send(self, user: User, options: dict[str, Any]) -> None:
        campaign = services.campaign_send(actor=user, campaign=self._campaign(user, options, "change"))
        progress = selectors.campaign_progress(campaign=campaign)
        emails = ngettext("queued %(n)s e-mail", "queued %(n)s e-mails", progress.total) % {
            "n": progress.total
        }
        calls = ngettext("%(n)s call task", "%(n)s call tasks", progress.calls) % {"n": progress.calls}
        self.stdout.write(self.style.SUCCESS(f"{emails}, {calls}"))

    def _pause(self, user: User, options: dict[str, Any]) -> None:
        held = services.campaign_pause(actor=user, campaign=self._campaign(user, options, "change"))
        self.stdout.write(ngettext("held %(n)s e-mail", "held %(n)s e-mails", held) % {"n": held})

    def _resume(self, user: User, options: dict[str, Any]) -> None:
        released = services.campaign_resume(actor=user, campaign=self._campaign(user, options, "change"))
        self.stdout.write(
            ngettext("released %(n)s e-mail", "released %(n)s e-mails", released) % {"n": released}
        )

    def _results(self, user: User, options: dict[str, Any]) -> None:
        results = selectors.campaign_results(campaign=self._campaign(user, options), user=user)
        if options["json"]:
            data = {
                "lines": [{**vars(line), "revenue": str(line.revenue)} for line in results.lines],
                "lifts": [
                    {
                        "label": lift.label,
                        "sentence": lift.sentence,
                        "rate": vars(lift.rate) if lift.rate else None,
                    }
                    for lift in results.lifts
                ],
            }
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        for line in results.lines:
            self.stdout.write(
                _(
                    "%(label)s: %(recipients)s recipients, %(delivered)s delivered, %(unsubscribed)s "
                    "unsubscribed, %(bought)s bought again, revenue %(revenue)s"
                )
                % {
                    "label": line.label,
                    "recipients": line.recipients,
                    "delivered": line.delivered,
                    "unsubscribed": line.unsubscribed,
                    "bought": line.bought,
                    "revenue": line.revenue,
                }
            )
        for lift in results.lifts:
            self.stdout.write(f"{lift.label}: {lift.sentence}")

    def _replies(self, files: list[str]) -> None:
        logged = unmatched = 0
        for name in files:
            path = Path(name)
            if not path.is_file():
                raise CommandError(_("No file '%(name)s'.") % {"name": name})
            for mail in _read_mail(path):
                if services.reply_from_mail(mail=mail) is None:
                    unmatched += 1
                    self.stdout.write(
                        _("  not a reply to a campaign: %(sender)s %(subject)r")
                        % {"sender": mail.get("From", ""), "subject": mail.get("Subject", "")}
                    )
                else:
                    logged += 1
        replies = ngettext("logged %(n)s reply", "logged %(n)s replies", logged) % {"n": logged}
        strays = ngettext("%(n)s answered no campaign", "%(n)s answered no campaign", unmatched) % {
            "n": unmatched
        }
        self.stdout.write(self.style.SUCCESS(f"{replies}; {strays}"))


def _read_mail(path: Path) -> list[EmailMessage]:
    """The messages of an mbox mailbox (it starts with a ``From `` line), or the one message of an .eml."""
    with path.open("rb") as handle:
        is_mbox = handle.read(5) == b"From "
    if is_mbox:
        parsed = [
            email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in mailbox.mbox(path)
        ]
        return [m for m in parsed if isinstance(m, EmailMessage)]
    with path.open("rb") as handle:
        message = email.message_from_binary_file(handle, policy=email.policy.default)
    if not isinstance(message, EmailMessage):
        raise CommandError(_("%(path)s is not an e-mail.") % {"path": path})
    return [message]
