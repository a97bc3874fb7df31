"""Background work of the customer file: looking for possible duplicates in a big portfolio."""

from __future__ import annotations

from cartera.core.tasks import task


@task()
def find_duplicates() -> str:
    """Run the duplicate finder over the whole file in the worker and store the pairs it finds."""
    from cartera.customers.services import duplicate_candidates_refresh

    return f"{duplicate_candidates_refresh()} possible duplicates"
