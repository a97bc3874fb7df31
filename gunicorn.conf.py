"""gunicorn's settings for Cartera in production: ``gunicorn cartera.wsgi --config gunicorn.conf.py``.

Every value can be overridden on the command line (``--bind``, ``--workers``...) or with the
variables below; docs/operations.md explains them, and ``make bench-load`` measures them.
"""

import os

bind = os.environ.get("CARTERA_BIND", "127.0.0.1:8000")
# One process per core and one more: a request spends part of its time waiting for PostgreSQL.
workers = int(os.environ.get("CARTERA_WEB_WORKERS", str((os.cpu_count() or 1) + 1)))
timeout = int(os.environ.get("CARTERA_WEB_TIMEOUT", "30"))

# Python's garbage collector, now and then, walks every object the process holds to find reference
# cycles: at a million customers a request of the customer list paid ~7 ms on average for it (a full
# collection, ~140 ms, about every twentieth request), walking Django's code, URL patterns and
# templates, which live as long as the process. Once a worker has loaded the application, and again
# once it has answered its first requests (templates, translations and caches are loaded lazily),
# those objects are moved out of the collector's sight (``gc.freeze``); what requests create is
# collected as before. docs/operations.md, docs/benchmarks.md (the load benchmark).
FREEZE_AFTER_REQUESTS = int(os.environ.get("CARTERA_GC_FREEZE_AFTER", "200"))


def _freeze_long_lived_objects() -> None:
    import gc

    gc.collect()
    gc.freeze()


def post_worker_init(worker):  # noqa: ANN001, ANN201 - gunicorn's hook
    worker.cartera_requests = 0
    _freeze_long_lived_objects()


def post_request(worker, req, environ, resp):  # noqa: ANN001, ANN201 - gunicorn's hook
    worker.cartera_requests = getattr(worker, "cartera_requests", 0) + 1
    if worker.cartera_requests == FREEZE_AFTER_REQUESTS:
        _freeze_long_lived_objects()
