"""The customer field table (customers/fields.py: personal or not) and the erasure table
(privacy/fields.py: how each field is erased) say the same thing about the customer."""

from __future__ import annotations

from cartera.customers.fields import BY_NAME, field_names
from cartera.privacy.fields import ERASED, FIELDS

# Personal but kept on erasure, on purpose: a country alone identifies nobody and the analysis by
# country stays true. The consent flags are withdrawn through the ledger; company and tags are unlinked.
KEPT_ON_PURPOSE = {"country"}
UNLINKED_OR_LEDGER = {"company", "tags", "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_mail"}


def test_what_erasure_erases_is_declared_personal():
    erased = {name for name, how in FIELDS["customers.customer"].items() if how in ERASED}
    assert erased <= set(field_names(personal=True)), erased - set(field_names(personal=True))


def test_every_personal_field_is_erased_or_kept_on_purpose():
    erased = {name for name, how in FIELDS["customers.customer"].items() if how in ERASED}
    missing = set(field_names(personal=True)) - erased - KEPT_ON_PURPOSE - UNLINKED_OR_LEDGER
    assert not missing, f"personal but not erased: {sorted(missing)}"


def test_every_field_of_the_erasure_table_is_in_the_customer_table():
    assert set(FIELDS["customers.customer"]) <= set(BY_NAME)
