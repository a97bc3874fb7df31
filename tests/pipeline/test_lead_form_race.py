"""The same person sends a lead form twice at the same moment (a double click, two tabs): one lead, two
answers, no error page. ``lead_submit`` takes a lock on the normalised e-mail until it commits, so the
second answer waits for the first and then finds the lead it created. PostgreSQL: two connections
(SQLite takes the write lock at the start of each transaction, so there the two never overlap).
Without the lock the second answer does not see the first's uncommitted lead, tries to create another
and fails on the unique e-mail once the first commits."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

from tests.shared_db import race


@pytest.mark.django_db(transaction=True)
def test_two_answers_at_once_with_one_email_make_one_lead(manager, make_user):
    if connection.vendor != "postgresql":
        pytest.skip("two connections at once: PostgreSQL")
    from cartera.customers.models import Customer
    from cartera.pipeline import services
    from cartera.pipeline.models import LeadAssignment, LeadSubmission

    cache.clear()
    rep = make_user("rep", "sales_rep", first_name="Rita", email="rita@cartera.example")
    lead_form = services.lead_form_save(
        actor=manager, lead_form=None,
        settings_values={"name": "Web", "active": True, "title": "Pide información", "language": "es",
                         "stage": "prospect", "consent_text": "", "allowed_origins": "",
                         "assignment": LeadAssignment.FIXED, "assign_to": rep},
        fields=["last_name"], required=[], round_robin_users=[],
    )  # fmt: skip

    def submit(email: str) -> Any:
        answers = {"first_name": "Ana", "last_name": "Ruiz", "email": email}
        return services.lead_submit(lead_form=lead_form, answers=answers, consent=False, language="es")

    # The same address, written differently, while the first answer is not committed yet.
    ended = race(lambda: submit("Ana.Ruiz@Example.com"), lambda: submit("ana.ruiz@example.com"))
    first = ended.first
    assert ended.error is None, repr(ended.error)
    assert ended.waited, "the second answer did not wait for the first"
    assert first.created_new and not ended.second.created_new
    assert Customer.objects.filter(email="ana.ruiz@example.com").count() == 1
    assert list(LeadSubmission.objects.values_list("customer_id", flat=True)) == [first.customer_id] * 2
