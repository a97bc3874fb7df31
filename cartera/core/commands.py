"""One language per command-line run: the base of Cartera's management commands that print to people.

A run speaks one language from its first line to its last: its own summaries, the messages the
services raise (row errors of an import, refusals...) and ``CommandError`` texts. The language is the
first of:

1. ``--lang es|en`` on the command (``cartera import --lang en ...``; a command with subcommands
   takes it before or after the subcommand: ``manage.py privacy export 42 --lang en``), or the global
   ``cartera --lang en <command>`` (:mod:`cartera.cli` passes it on as ``CARTERA_LANG``);
2. the ``CARTERA_LANG`` environment variable;
3. the acting user's language, for a command that acts as a user (``--user``), when the account
   stores one (accounts have no language of their own yet: then the next rule);
4. the language active when the command starts: ``settings.LANGUAGE_CODE`` (Spanish) on the
   command line; the caller's, for code that runs a command with ``call_command``.

Options are never abbreviated (``allow_abbrev=False`` on the parser and every subcommand's): argparse
would otherwise read ``--lang`` as the prefix of an option such as ``privacy export --language`` (the
document's language) and the run would silently speak the other language.
"""

from __future__ import annotations

import argparse
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


def _add_language_option(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument(
        "--lang",
        choices=language_codes(),
        default=default,
        help="language of everything the command prints (default: CARTERA_LANG, else "
        f"{settings.LANGUAGE_CODE})",
    )


def _subcommands_like(parser: argparse.ArgumentParser) -> None:
    """Every subcommand of ``parser`` (at any depth) takes ``--lang`` too and abbreviates no option.

    The subcommand's ``--lang`` has no default: a subcommand parses into its own namespace, copied
    over the command's, so a default would undo a ``--lang`` given before the subcommand.
    """
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                sub.allow_abbrev = False  # read when parsing
                if "--lang" not in sub._option_string_actions:
                    _add_language_option(sub, default=argparse.SUPPRESS)
                _subcommands_like(sub)


class LanguageCommand(BaseCommand):
    """A management command that runs in one language, chosen by ``--lang`` or :func:`command_language`.

    A command that acts as a user and knows them only inside ``handle`` calls
    :meth:`speak_as` once it has found them."""

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        kwargs.setdefault("allow_abbrev", False)
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        _add_language_option(parser, default=None)
        _subcommands_like(parser)  # made by ``add_arguments``, inside the call above
        return parser

    def execute(self, *args: Any, **options: Any) -> Any:
        self.lang_option = options.get("lang")
        with translation.override(command_language(self.lang_option)):
            return super().execute(*args, **options)

    def speak_as(self, user: Any) -> None:
        """Switch to the acting user's language, unless ``--lang`` or ``CARTERA_LANG`` chose one."""
        translation.activate(command_language(getattr(self, "lang_option", None), user))
