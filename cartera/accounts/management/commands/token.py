"""``cartera token create|list|revoke``: personal tokens for the REST API.

A token is shown once, when it is created; only its hash is stored, so a lost token is revoked
and replaced, never recovered.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from django.utils import timezone
from django.utils.translation import gettext as _

from cartera.accounts.models import ApiToken, TokenScope, User
from cartera.accounts.services import api_token_create, api_token_revoke
from cartera.core.commands import LanguageCommand


def _user(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise CommandError(_("No user named '%(username)s'.") % {"username": username}) from exc


class Command(LanguageCommand):
    help = "Create, list and revoke personal API tokens."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{create,list,revoke}")
        create = actions.add_parser("create", help="Create a token for a user and print it (once).")
        create.add_argument("username")
        create.add_argument("name", help='What the token is for, e.g. "laptop" or "nightly import".')
        create.add_argument(
            "--scope",
            choices=TokenScope.values,
            default=TokenScope.READ,
            help="read (the default: it cannot change anything) or write.",
        )
        create.add_argument(
            "--days",
            type=int,
            default=None,
            help=f"How long it works (default {settings.CARTERA_API_TOKEN_DAYS}, "
            f"at most {settings.CARTERA_API_TOKEN_MAX_DAYS}).",
        )
        listing = actions.add_parser("list", help="List tokens (never their keys), of one user or all.")
        listing.add_argument("username", nargs="?")
        revoke = actions.add_parser("revoke", help="Delete one of a user's tokens; it stops working at once.")
        revoke.add_argument("username")
        revoke.add_argument("token_id", type=int, help="The id shown by `cartera token list`.")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "create":
            self._create(options["username"], options["name"], options["scope"], options["days"])
        elif action == "list":
            self._list(options["username"])
        else:
            self._revoke(options["username"], options["token_id"])

    def _create(self, username: str, name: str, scope: str, days: int | None) -> None:
        user = _user(username)
        if not user.is_active:
            raise CommandError(
                _("User '%(username)s' is inactive; their tokens would not work.") % {"username": username}
            )
        try:
            token, raw = api_token_create(user=user, name=name, scope=scope, days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        expires = timezone.localtime(token.expires_at).strftime("%Y-%m-%d")
        self.stderr.write(
            _(
                "Token %(id)s (%(name)s, %(scope)s) for %(username)s, until %(expires)s. Shown once; store it now:"
            )
            % {
                "id": token.pk,
                "name": token.name,
                "scope": token.scope,
                "username": user.username,
                "expires": expires,
            }
        )
        # The key alone on stdout, so that scripts can capture it: KEY=$(cartera token create ...)
        self.stdout.write(raw)

    def _list(self, username: str | None) -> None:
        tokens = ApiToken.objects.select_related("user").order_by("user__username", "pk")
        if username:
            tokens = tokens.filter(user=_user(username))
        rows = [
            (
                str(t.pk),
                t.user.username,
                t.name,
                f"{t.prefix}…",
                t.scope,
                timezone.localtime(t.created_at).strftime("%Y-%m-%d %H:%M"),
                timezone.localtime(t.expires_at).strftime("%Y-%m-%d"),
                timezone.localtime(t.last_used_at).strftime("%Y-%m-%d %H:%M")
                if t.last_used_at
                else _("never"),
                _("password changed")
                if t.password_changed()
                else _("expired")
                if t.is_expired()
                else _("active"),
            )
            for t in tokens
        ]
        if not rows:
            self.stdout.write(_("No tokens."))
            return
        header = (
            _("id"), _("user"), _("name"), _("key"), _("access"), _("created"), _("expires"), _("last used"), _("status"),
        )  # fmt: skip
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )

    def _revoke(self, username: str, token_id: int) -> None:
        if not api_token_revoke(user=_user(username), token_id=token_id):
            raise CommandError(
                _("'%(username)s' has no token with id %(id)s.") % {"username": username, "id": token_id}
            )
        self.stdout.write(_("Token %(id)s of %(username)s revoked.") % {"id": token_id, "username": username})
