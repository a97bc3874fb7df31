"""gunicorn's settings for Cartera in production: ``gunicorn cartera.wsgi --config gunicorn.conf.py``.

Every value can be overridden on the command line (``--bind``, ``--workers``...) or with the
variables below; docs/operations.md explains them, and ``make bench-load`` measures them.
"""

import os

bind = os.environ.get("CARTERA_BIND", "127.0.0.1:8000")
# One process per core and one more: a request spends part of its time waiting for PostgreSQL.
workers = int(os.environ.get("CARTERA_WEB_WORKERS", str((os.cpu_count() or 1) + 1)))
timeout = int(os.environ.get("CARTERA_WEB_TIMEOUT", "30"))
