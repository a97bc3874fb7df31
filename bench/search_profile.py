"""Profile the customer list's search as the web view runs it: each query timed, the slowest explained.

For a search that misses its goal in ``bench.run`` (issue 10): the web list's queries for a user
(default the demo sales rep "ana"), run twice (the first run may find a cold cache), each query's
time, then ``EXPLAIN QUERY PLAN`` (SQLite) or ``EXPLAIN (ANALYZE, BUFFERS)`` (PostgreSQL) of the
slowest. Run from the repository root against a benchmark database::

    DATABASE_URL=sqlite:////abs/var/bench-big.sqlite3 .venv/bin/python -m bench.search_profile garcia,molna
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("terms", help="comma-separated search terms")
    parser.add_argument("--user", default="ana", help="username of the person searching (default ana)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cartera.settings")
    import django

    django.setup()
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cartera.accounts.models import User
    from cartera.core.pagination import capped_count, paginate
    from cartera.customers import selectors
    from cartera.customers.views import COUNT_CAP, PAGE_SIZE

    user = User.objects.get(username=args.user)
    for term in args.terms.split(","):
        for attempt in ("first", "again"):
            with CaptureQueriesContext(connection) as ctx:
                began = time.perf_counter()
                qs = selectors.customer_list(user=user, filters=selectors.CustomerFilters(query=term))
                paginate(qs, ordering=selectors.CUSTOMER_SORTS["newest"], cursor=None, size=PAGE_SIZE)
                total, more = capped_count(qs, COUNT_CAP)
                elapsed = time.perf_counter() - began
            print(f"== {term!r} ({attempt}): {elapsed * 1000:.0f} ms, {total:,}{'+' if more else ''} found")
            for query in ctx.captured_queries:
                print(f"   {float(query['time']) * 1000:7.1f} ms  {query['sql'][:240]}")
        slowest = max(ctx.captured_queries, key=lambda query: float(query["time"]))
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
        with connection.cursor() as cursor:
            cursor.execute(explain + slowest["sql"])
            for row in cursor.fetchall():
                print("   plan:", row if connection.vendor == "sqlite" else row[0][:240])


if __name__ == "__main__":
    main()
