from __future__ import annotations

import pytest


@pytest.fixture
def consenting(customer, owner):
    """The shared customer, with marketing e-mail consent in the ledger."""
    from cartera.privacy.services import consent_record

    consent_record(
        actor=owner,
        customer=customer,
        channel="email",
        purpose="marketing",
        granted=True,
        source="form",
        wording="Quiero recibir ofertas por e-mail",
        version="t1",
    )
    customer.refresh_from_db()
    return customer
