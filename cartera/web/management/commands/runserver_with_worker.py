"""Serve the app, run the background worker beside it and the local SMTP sink, for ``make run``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.utils.translation import gettext as _

from cartera.core.commands import LanguageCommand
from cartera.imports.tasks import export_sweep_schedule
from cartera.messaging.selectors import sink_directory
from cartera.messaging.sink import start_sink
from cartera.messaging.tasks import outbox_schedule


class Command(LanguageCommand):
    help = (
        "Start the task worker in the background and the local SMTP sink, and serve the app "
        "(development server)."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument(
            "--no-sink",
            action="store_true",
            help="Do not start the local SMTP sink (a real server is configured).",
        )

    def handle(self, *args: Any, addrport: str, no_sink: bool, **options: Any) -> None:
        sink = None
        if not no_sink:
            try:
                sink = start_sink(
                    host="127.0.0.1", port=settings.CARTERA_SMTP_SINK_PORT, folder=sink_directory()
                )
            except OSError as exc:
                self.stderr.write(
                    _("Local SMTP sink not started (port %(port)s): %(error)s")
                    % {"port": settings.CARTERA_SMTP_SINK_PORT, "error": exc}
                )
            else:
                page = "/mail/sink/" if settings.DEBUG else _("(debug mode only)")
                self.stdout.write(
                    self.style.SUCCESS(
                        _(
                            "Local SMTP sink on 127.0.0.1:%(port)s, messages in %(folder)s, listed at %(page)s."
                        )
                        % {
                            "port": settings.CARTERA_SMTP_SINK_PORT,
                            "folder": Path(sink_directory()),
                            "page": page,
                        }
                    )
                )
        # A worker restarted after a crash picks up what the outbox still holds.
        outbox_schedule()
        # ...and deletes the export files that expired while it was down (then at each expiry).
        export_sweep_schedule()
        worker = subprocess.Popen([sys.executable, "manage.py", "db_worker", "--interval", "1"])  # noqa: S603
        self.stdout.write(
            self.style.SUCCESS(_("Background worker started (pid %(pid)s).") % {"pid": worker.pid})
        )
        self.stdout.write(
            _("Demo logins (password 'cartera-demo'): admin, manager, ana (sales rep), luis (sales rep)")
        )
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            worker.terminate()
            worker.wait(timeout=10)
            if sink is not None:
                sink.stop()
