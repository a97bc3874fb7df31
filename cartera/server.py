"""The production web server's command line (gunicorn with the repository's ``gunicorn.conf.py``),
for the tests and benchmarks that start the real server. Imports nothing of Django."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def gunicorn_command(port: int, *extra: str) -> list[str]:
    """gunicorn from this interpreter's environment, serving ``cartera.wsgi`` on 127.0.0.1:``port``."""
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "cartera.wsgi",
        "--config",
        str(ROOT / "gunicorn.conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        *extra,
    ]
