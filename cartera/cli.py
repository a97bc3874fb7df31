"""The ``cartera`` command: Cartera's management commands under one short name.

``cartera demo``, ``cartera createuser``, ``cartera refresh``... are Django management commands;
``cartera help`` lists them all. ``cartera --lang en <command> ...`` (or ``--lang`` anywhere in the
line) runs the whole command in that language: see :mod:`cartera.core.commands`.
"""

from __future__ import annotations

import os
import sys


def split_language(args: list[str]) -> tuple[list[str], str | None]:
    """``args`` without the global ``--lang X`` / ``--lang=X``, and X (the last one given)."""
    rest: list[str] = []
    language = None
    items = iter(args)
    for item in items:
        if item == "--lang":
            language = next(items, None)
        elif item.startswith("--lang="):
            language = item.partition("=")[2]
        else:
            rest.append(item)
    return rest, language


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django
    from django.core.management import ManagementUtility
    from django.utils import translation

    args, language = split_language(list(sys.argv if argv is None else argv))
    args[0] = "cartera"
    django.setup()
    from cartera.core.commands import LANGUAGE_ENV, command_language, language_codes

    if language is not None:
        if language not in language_codes():
            sys.stderr.write(f"--lang: {language!r}? ({' | '.join(language_codes())})\n")
            sys.exit(2)
        os.environ[LANGUAGE_ENV] = language
    # Django's own commands and ours alike: one language for the whole run.
    translation.activate(command_language())
    from django.db import InterfaceError, OperationalError

    try:
        ManagementUtility(args).execute()
    except (OperationalError, InterfaceError) as exc:
        # A database restart or a dropped network in the middle of a command: every command writes
        # in transactions (an import per chunk it records as done), so what was not committed is
        # simply not there, and running the command again carries on or starts over safely.
        from django.utils.translation import gettext

        message = gettext(
            "The connection to the database was lost (%(error)s). Nothing that was not yet saved has "
            "been saved; run the command again."
        ) % {"error": next(iter(str(exc).strip().splitlines()), type(exc).__name__)}
        sys.stderr.write(message + "\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
