"""A sales rep's "Anticipate" list walks the value-at-risk index instead of sorting every at-risk
customer of the base on each home page view (250 ms at 1,000,000 customers, 2 ms with the index)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cartera.segments.selectors.portfolio import at_risk_customer_ids

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner and expression index")
def test_a_reps_at_risk_list_reads_the_value_at_risk_index(owner):
    with CaptureQueriesContext(connection) as ctx:
        at_risk_customer_ids(owner=owner, limit=16)
    (query,) = ctx.captured_queries
    with connection.cursor() as cursor:
        # A test database is too small for the planner to prefer an index: forbid the alternatives,
        # so that the plan shows whether the index matches the selector's expression at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "metrics_value_at_risk" in plan, plan
