"""Normalising the ways of reaching a person: email addresses and phone numbers.

Both use the ecosystem's libraries (email-validator, phonenumbers) rather than home-made rules, and
raise Django ``ValidationError`` with a message in the user's language.
"""

from __future__ import annotations

import email_validator
import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _


def normalize_email(value: str | None) -> str | None:
    """The address in canonical, lower-case form, ``None`` when blank; no network lookups."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        result = email_validator.validate_email(value, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise ValidationError(
            _("“%(value)s” is not a valid email address."), code="invalid_email", params={"value": value}
        ) from exc
    return result.normalized.lower()


def normalize_phone(value: str | None, region: str | None = None) -> str:
    """The number in E.164 (``+34612345678``), ``""`` when blank.

    Numbers written without a country code are read in ``region`` (``CARTERA_DEFAULT_PHONE_REGION``,
    Spain unless configured).
    """
    value = (value or "").strip()
    if not value:
        return ""
    region = region or settings.CARTERA_DEFAULT_PHONE_REGION
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationError(
            _("“%(value)s” is not a phone number."), code="invalid_phone", params={"value": value}
        ) from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            _("“%(value)s” is not a valid phone number for %(region)s; add the country code, e.g. +34."),
            code="invalid_phone",
            params={"value": value, "region": region},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """A stored E.164 number written the way people read it (national form for the default region)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    region = settings.CARTERA_DEFAULT_PHONE_REGION
    if phonenumbers.region_code_for_number(number) == region:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
