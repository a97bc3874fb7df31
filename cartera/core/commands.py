"""One language per command-line run: the base of Cartera's management commands that print to people.

A run speaks one language from its first line to its last: its own summaries, the messages the
services raise (row errors of an import, refusals...) and ``CommandError`` texts. The language is the
first of:

1. ``--lang es|en`` on the command (``cartera import --lang en ...``), or the global
   ``cartera --lang en <command>`` (:mod:`cartera.cli` passes it on as ``CARTERA_LANG``);
2. the ``CARTERA_LANG`` environment variable;
3. the acting user's language, for a command that acts as a user (``--user``), when the account
   stores one (accounts have no language of their own yet: then the next rule);
4. the language active when the command starts: ``settings.LANGUAGE_CODE`` (Spanish) on the
   command line; the caller's, for code that runs a command with ``call_command``.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.utils import translation

LANGUAGE_ENV = "CARTERA_LANG"


def language_codes() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def command_language(option: str | None = None, user: Any = None) -> str:
    """The language of a run (see the module's docstring for the order of the rules)."""
    for candidate in (option, os.environ.get(LANGUAGE_ENV), getattr(user, "language", None)):
        code = (candidate or "").strip().lower()[:2]
        if code in language_codes():
            return code
    active = (translation.get_language() or "").lower()[:2]
    return active if active in language_codes() else str(settings.LANGUAGE_CODE)


class LanguageCommand(BaseCommand):
    """A management command that runs in one language, chosen by ``--lang`` or :func:`command_language`.

    A command that acts as a user and knows them only inside ``handle`` calls
    :meth:`speak_as` once it has found them."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument(
            "--lang",
            choices=language_codes(),
            default=None,
            help="language of everything the command prints (default: CARTERA_LANG, else "
            f"{settings.LANGUAGE_CODE})",
        )
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        self.lang_option = options.get("lang")
        with translation.override(command_language(self.lang_option)):
            return super().execute(*args, **options)

    def speak_as(self, user: Any) -> None:
        """Switch to the acting user's language, unless ``--lang`` or ``CARTERA_LANG`` chose one."""
        translation.activate(command_language(getattr(self, "lang_option", None), user))
