"""The production web server (gunicorn with the repository's gunicorn.conf.py) in its own process,
over the test's database, for tests that need a real server: its threads, or a kill -9 mid-request."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import requests
from django.conf import settings

from cartera.server import gunicorn_command

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class WebServer:
    """``gunicorn cartera.wsgi --config gunicorn.conf.py`` on 127.0.0.1, one worker process."""

    def __init__(self, database_url: str, tmp_path: Path, **env: str) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / "gunicorn.log"
        self.env = dict(os.environ)
        self.env.pop("CARTERA_DEBUG", None)
        self.env.update(
            DATABASE_URL=database_url,
            DJANGO_SETTINGS_MODULE="cartera.settings",
            CARTERA_HTTPS="0",  # plain HTTP to 127.0.0.1, as behind a TLS proxy
            CARTERA_WEB_WORKERS="1",
            # The test's own key: the sessions the test opens are signed with it.
            CARTERA_SECRET_KEY=settings.SECRET_KEY,
            **env,
        )
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> WebServer:
        command = gunicorn_command(self.port)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own server
                command, env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                if requests.get(self.base + "/accounts/login/", timeout=5).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer within 90 s: {self.log.read_text()}")

    def kill(self) -> None:
        """kill -9 of the master and its workers (the whole process group)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def __exit__(self, *exc: Any) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def session(self, session_key: str | None = None) -> requests.Session:
        """A browser's session with this server: logged in when given a session key of the database."""
        browser = requests.Session()
        if session_key:
            browser.cookies.set("sessionid", session_key, domain="127.0.0.1")
        return browser


def csrf_token(page: requests.Response) -> str:
    """The form's CSRF token on ``page``."""
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)
