"""The ``cartera`` command: Cartera's management commands under one short name.

``cartera demo``, ``cartera createuser``, ``cartera refresh``... are Django management commands;
``cartera help`` lists them all.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "cartera"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
