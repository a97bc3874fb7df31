"""Serve the app and run the background worker beside it, for ``make run``."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Start the task worker in the background and serve the app (development server)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")

    def handle(self, *args: Any, addrport: str, **options: Any) -> None:
        worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--interval", "1"])  # noqa: S603
        self.stdout.write(self.style.SUCCESS(f"Background worker started (pid {worker.pid})."))
        self.stdout.write(
            "Demo logins (password 'cartera-demo'): admin, manager, ana (sales rep), luis (sales rep)"
        )
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            worker.terminate()
            worker.wait(timeout=10)
