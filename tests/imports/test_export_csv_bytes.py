"""The customer CSV writer is byte for byte what it was before it was made faster (issue 16).

``tests/imports/data/customers-*.csv`` were written by the writer before the speed-up, from the
portfolio below: accents, every kind of admin-defined field (and a value that no longer fits its
type), names and notes that look like formulas (which must stay neutralised with a leading ``'``),
empty values, a company, tags, owners, a foreign phone number and choice fields. Customer numbers
depend on the database's sequence, so they are numbered in order before comparing; everything else
must be identical. To write the files again on purpose: ``CARTERA_WRITE_GOLDEN=1``.
"""

from __future__ import annotations

import datetime
import os
import re

import pytest
from django.utils import translation

from cartera.customers.models import Customer, Tag
from cartera.customers.services import customer_create
from cartera.imports import exporting
from cartera.imports.services import export_source

pytestmark = pytest.mark.django_db


@pytest.fixture
def varied(owner, colleague, manager, custom_field_set):
    vip, fair, formula = (Tag.objects.create(name=n) for n in ("VIP", "Feria de Sevilla", "=1+1"))
    rows = [
        ({"first_name": "Lucía", "last_name": "Martínez Ortega", "title": "ms", "email": "lucia@example.es",
          "phone": "612 345 678", "stage": "customer", "sector": "Hostelería", "company_name": "Cañas & Tapas S.L.",
          "job_title": "Gerente", "profession": "Cocinera", "birth_date": datetime.date(1980, 2, 29),
          "address": "C/ Ñandú 3, 2º", "city": "Málaga", "region": "Andalucía", "postal_code": "29001",
          "preferred_channel": "whatsapp", "opt_in_email": True, "income_range": "25k-40k", "owner": owner,
          "notes": 'Dijo: "llámame"; el martes\nsegunda línea',
          "custom_fields": {"shoe": "38,5", "vip_since": "2020-05-01", "club": True, "store": "Norte",
                            "hobby": "Vela, golf"}}, [vip, fair]),
        ({"first_name": '=HYPERLINK("http://x","y")', "last_name": "+34 600", "email": "f@example.es",
          "job_title": "-5", "profession": "@suma", "city": "\tTab", "region": "\rCR", "owner": colleague,
          "custom_fields": {"hobby": "=cmd|' /C calc'!A0", "shoe": "-3", "club": False}}, [formula]),
        ({"first_name": "Eva", "country": "", "custom_fields": {}}, []),
        ({"first_name": "John", "last_name": "O'Brien", "phone": "+44 7911 123456", "country": "GB",
          "stage": "former", "owner": manager, "title": "dr", "source": "referral"}, [vip]),
    ]  # fmt: skip
    made = [customer_create(actor=manager, fields=fields, tags=tags) for fields, tags in rows]
    # A stored value that no longer fits its field's type (the field changed): written as text.
    Customer.objects.filter(pk=made[2].pk).update(
        custom_fields={"shoe": "grande", "vip_since": "ayer", "store": "Cerrada"}
    )
    return made


def _csv(user, spanish: bool) -> bytes:
    qs, header, row = export_source(user=user, kind="customers", filters={})
    return b"".join(exporting.csv_stream(header, (row(c) for c in exporting.export_objects(qs)), spanish))


def _numbered(body: bytes) -> bytes:
    seen: dict[bytes, bytes] = {}
    return re.sub(
        rb"cartera-\d+", lambda m: seen.setdefault(m.group(), b"cartera-%d" % (len(seen) + 1)), body
    )


@pytest.mark.parametrize(
    ("language", "spanish", "name"),
    [
        ("es", True, "customers-es-excel.csv"),
        ("es", False, "customers-es.csv"),
        ("en", False, "customers-en.csv"),
    ],
)
def test_the_csv_is_byte_for_byte_what_it_was(manager, varied, data_dir, language, spanish, name):
    with translation.override(language):
        body = _numbered(_csv(manager, spanish))
    golden = data_dir / name
    if os.environ.get("CARTERA_WRITE_GOLDEN"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_bytes(body)
    assert body == golden.read_bytes()
    # What the file must show, whatever the writer: formulas neutralised, accents in UTF-8 with BOM.
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    assert "'=HYPERLINK(" in text and "'=cmd|" in text and "'+34 600" in text and "'-5" in text
    assert "'@suma" in text and "'=1+1" in text and "Ñandú" in text
