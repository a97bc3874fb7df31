"""``cartera createuser``: add a member of the team with one role."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError, CommandParser
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from cartera.accounts import roles
from cartera.accounts.models import User
from cartera.accounts.services import user_create
from cartera.core.commands import LanguageCommand

ROLES = tuple(sorted(roles.ROLE_PERMISSIONS))


class Command(LanguageCommand):
    help = "Create a user with a role: admin (everything), manager (every customer) or sales_rep."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--role", required=True, help=f"One of: {', '.join(ROLES)}.")
        parser.add_argument("--email", default="")
        parser.add_argument("--first-name", default="")
        parser.add_argument("--last-name", default="")
        secret = parser.add_mutually_exclusive_group()
        secret.add_argument(
            "--password",
            help="The password (visible in the shell history and process list: prefer the prompt).",
        )
        secret.add_argument(
            "--password-stdin", action="store_true", help="Read the password from the first line of stdin."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        role = options["role"]
        if not username:
            raise CommandError(_("The username cannot be empty."))
        if role not in ROLES:
            raise CommandError(
                _("Unknown role '%(role)s'. Choose one of: %(roles)s.")
                % {"role": role, "roles": ", ".join(ROLES)}
            )
        try:
            User._meta.get_field("username").run_validators(username)
        except ValidationError as exc:
            raise CommandError(
                _("Invalid username '%(username)s': %(reasons)s")
                % {"username": username, "reasons": " ".join(exc.messages)}
            ) from exc
        if options["email"]:
            try:
                validate_email(options["email"])
            except ValidationError as exc:
                raise CommandError(
                    _("Invalid email '%(email)s': %(reasons)s")
                    % {"email": options["email"], "reasons": " ".join(exc.messages)}
                ) from exc
        if User.objects.filter(username__iexact=username).exists():
            raise CommandError(_("A user named '%(username)s' already exists.") % {"username": username})
        password = self._password(options)
        candidate = User(
            username=username,
            email=options["email"],
            first_name=options["first_name"],
            last_name=options["last_name"],
        )
        try:
            validate_password(password, candidate)
        except ValidationError as exc:
            raise CommandError(
                _("Password refused: %(reasons)s") % {"reasons": " ".join(exc.messages)}
            ) from exc
        user = user_create(
            username=username,
            password=password,
            role=role,
            email=options["email"],
            first_name=options["first_name"],
            last_name=options["last_name"],
        )
        self.stdout.write(
            self.style.SUCCESS(
                _("User '%(username)s' created with role %(role)s.")
                % {"username": user.username, "role": role}
            )
        )

    def _password(self, options: dict[str, Any]) -> str:
        if options["password"] is not None:
            return str(options["password"])
        if options["password_stdin"]:
            line = sys.stdin.readline().rstrip("\r\n")
            if not line:
                raise CommandError(_("No password on stdin."))
            return line
        if not sys.stdin.isatty():
            raise CommandError(_("No terminal to ask for the password: use --password-stdin or --password."))
        for _attempt in range(3):
            first = getpass.getpass(_("Password: "))
            if first and first == getpass.getpass(_("Password (again): ")):
                return first
            self.stderr.write(_("The passwords are empty or do not match; try again."))
        raise CommandError(_("No password given."))
