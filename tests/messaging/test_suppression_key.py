"""The suppression list's key of an address: the quick path for plain addresses gives exactly what
the e-mail validator gives (its plain twin), valid addresses or not."""

from __future__ import annotations

import pytest

from cartera.privacy.selectors import email_hash, email_key, email_key_validated

ADDRESSES = [
    "c123@bench.example",
    "Cliente123@Bench.Example",
    "  Lucia@Example.ES ",
    "a.b+c@EXAMPLE.co.uk",
    "o'brien@example.ie",
    "x_y-z@sub.example.com",
    "ABC!#$%&*+/=?^_`{|}~@example.org",
    "no-at-sign.example.com",
    "two@@example.com",
    "a..b@example.com",
    ".lead@example.com",
    "trail.@example.com",
    "x@localhost",
    "x@example",
    "x@-bad-.com",
    "x@example.com.",
    "x@xn--bcher-kva.de",
    "x@XN--BCHER-KVA.de",
    "José@Example.es",
    "x@bücher.de",
    '"john smith"@example.com',
    "x@[192.168.0.1]",
    "x y@example.com",
    "",
    "   ",
    "@",
    "a" * 70 + "@example.com",
    "x@" + "a" * 70 + ".com",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_the_quick_key_is_the_validators_key(address, settings):
    assert email_key(address) == email_key_validated(address)


def test_the_hash_does_not_depend_on_case_or_spaces():
    assert email_hash(" Lucia@Example.ES") == email_hash("lucia@example.es")
    assert email_hash("x@XN--BCHER-KVA.de") == email_hash("x@bücher.de")
