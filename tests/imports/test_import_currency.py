"""Issue 11, item 10: order imports have a currency (chosen per import, default from the settings, a
currency column overriding it row by row), stored with each order and shown with it."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from cartera.customers.models import Customer
from cartera.imports.models import ImportJob, ImportMapping, ImportRowError
from cartera.imports.services import import_job_configure, import_job_run
from cartera.sales.models import Order

pytestmark = pytest.mark.django_db

# An American shop's history: "," and UTF-8, month/day/year, amounts in dollars, a currency column.
DOLLARS = (
    "Order ID,Order Date,Customer Email,Customer Name,Total,Currency\r\n"
    "A-1,01/15/2025,ann@example.com,Ann Smith,1234.56,USD\r\n"
    "A-2,02/20/2025,ann@example.com,Ann Smith,99.90,usd\r\n"
)
# The same without a currency column: the import's currency applies.
NO_COLUMN = (
    "Order ID,Order Date,Customer Email,Customer Name,Total\r\n"
    "B-1,01/15/2025,bob@example.com,Bob Jones,10.00\r\n"
)


def _cli(path, *args):
    out = io.StringIO()
    call_command("import", str(path), "--user", "manager", "--kind", "orders", *args, stdout=out)
    return out.getvalue()


def _write(tmp_path, content, name="orders.csv"):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def _options(**extra):
    return {"date_order": "mdy", "decimal_comma": False, "create_customers": True, **extra}


@pytest.mark.parametrize(("language", "shown"), [("en", "$1,234.56"), ("es", "1.234,56\u00a0$")])
def test_a_dollar_file_is_stored_in_dollars_and_shown_with_its_currency(
    client, manager, tmp_path, language, shown
):
    _cli(_write(tmp_path, DOLLARS), "--date-order", "mdy", "--no-decimal-comma", "--create-customers")
    ann = Customer.objects.get(email="ann@example.com")
    assert sorted(ann.orders.values_list("amount", "currency")) == [
        (Decimal("99.90"), "USD"),
        (Decimal("1234.56"), "USD"),
    ]
    client.force_login(manager)
    page = client.get(reverse("customers:detail", args=[ann.pk]), HTTP_ACCEPT_LANGUAGE=language)
    assert shown in page.text
    assert "1.234,56\u00a0€" not in page.text and "€1,234.56" not in page.text


def test_without_a_column_the_currency_of_the_import_applies(manager, tmp_path):
    path = _write(tmp_path, NO_COLUMN)
    out = _cli(path, "--date-order", "mdy", "--no-decimal-comma", "--create-customers", "--currency", "usd",
               "--lang", "en")  # fmt: skip
    assert "Currency of the amounts whose row names none: USD." in out
    assert Order.objects.get().currency == "USD"
    assert ImportJob.objects.get().currency == "USD"


def test_the_default_currency_comes_from_the_settings(manager, tmp_path, settings):
    _cli(_write(tmp_path, NO_COLUMN), "--date-order", "mdy", "--no-decimal-comma", "--create-customers")
    assert Order.objects.get().currency == "EUR" and ImportJob.objects.get().currency == "EUR"
    settings.CARTERA_DEFAULT_CURRENCY = "GBP"
    _cli(_write(tmp_path, NO_COLUMN.replace("B-1", "B-2"), "more.csv"),
         "--date-order", "mdy", "--no-decimal-comma", "--create-customers")  # fmt: skip
    assert Order.objects.get(external_ref="B-2").currency == "GBP"
    assert ImportJob.objects.latest("pk").currency == "GBP"


def test_a_column_overrides_the_import_currency_row_by_row(manager, start_job):
    content = (
        "Order ID,Order Date,Customer Email,Total,Currency\r\n"
        "C-1,01/15/2025,cy@example.com,10.00,\r\n"
        "C-2,01/16/2025,cy@example.com,20.00,GBP\r\n"
        "C-3,01/17/2025,cy@example.com,30.00,€\r\n"
    )
    job = start_job(manager, content, name="orders.csv", kind="orders")
    assert job.columns["Currency"] == "currency"
    job = import_job_configure(
        actor=manager, job=job, columns=job.columns, options=_options(), currency="CHF"
    )
    import_job_run(job=job, dry_run=False)
    assert dict(Order.objects.values_list("external_ref", "currency")) == {
        "C-1": "CHF",
        "C-2": "GBP",
        "C-3": "EUR",
    }


@pytest.mark.parametrize(
    ("language", "words"),
    [("es", "«XYZ» no es un código de moneda"), ("en", "“XYZ” is not a currency code")],
)
def test_an_unknown_code_in_a_row_is_rejected_naming_it(manager, tmp_path, language, words):
    content = DOLLARS.replace("99.90,usd", "99.90,XYZ").replace("1234.56,USD", "1234.56,$")
    out = _cli(_write(tmp_path, content), "--date-order", "mdy", "--no-decimal-comma", "--create-customers",
               "--lang", language)  # fmt: skip
    reasons = {e.row_number: (e.column, e.value, e.reason) for e in ImportRowError.objects.all()}
    assert set(reasons) == {2, 3}  # "$" alone is the peso's sign too: refused, not guessed
    column, value, reason = reasons[3]
    assert (column, value) == ("Currency", "XYZ") and words in reason and "ISO 4217" in reason
    assert words in out
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("language", "words"),
    [("es", "«DOLARES» no es un código de moneda"), ("en", "“DOLARES” is not a currency code")],
)
def test_an_unknown_currency_option_is_refused_naming_it(manager, tmp_path, language, words):
    with pytest.raises(CommandError, match=words):
        _cli(_write(tmp_path, NO_COLUMN), "--currency", "DOLARES", "--lang", language)
    # Nothing is kept of the refused run.
    assert ImportJob.objects.count() == 0 and Order.objects.count() == 0


@pytest.mark.parametrize(
    ("language", "label"), [("es", "Moneda de los importes"), ("en", "Currency of the amounts")]
)
def test_the_web_mapping_chooses_the_currency(client, manager, start_job, language, label):
    job = start_job(manager, NO_COLUMN, name="orders.csv", kind="orders")
    client.force_login(manager)
    url = reverse("imports:mapping", args=[job.pk])
    page = client.get(url, HTTP_ACCEPT_LANGUAGE=language)
    assert label in page.text and '<option value="EUR" selected>' in page.text
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    form.update(date_order="mdy", duplicate_policy="skip", source="import", create_customers="on",
                currency="ZZZ", action="dry_run", save_as="US shop")  # fmt: skip
    refused = client.post(url, form, HTTP_ACCEPT_LANGUAGE=language)
    assert refused.status_code == 200 and "ZZZ" in refused.text
    form["currency"] = "USD"
    assert client.post(url, form, HTTP_ACCEPT_LANGUAGE=language).status_code == 302
    job.refresh_from_db()
    assert job.currency == "USD" and job.report["error"] == 0
    detail = client.get(reverse("imports:detail", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language)
    words = "importes en USD" if language == "es" else "amounts in USD"
    assert words in detail.text
    import_job_run(job=job, dry_run=False)
    assert Order.objects.get().currency == "USD"
    # The saved mapping keeps the currency for the next file of the same shape.
    assert ImportMapping.objects.get(name="US shop").options["currency"] == "USD"


def test_a_saved_mapping_brings_its_currency(manager, start_job):
    first = start_job(manager, NO_COLUMN, name="orders.csv", kind="orders")
    import_job_configure(actor=manager, job=first, columns=first.columns, options=_options(),
                         currency="JPY", save_as="Tokyo")  # fmt: skip
    second = start_job(manager, NO_COLUMN, name="orders.csv", kind="orders")
    assert second.currency == "EUR"
    from cartera.imports.services import import_mapping_apply

    second = import_mapping_apply(job=second, mapping=ImportMapping.objects.get(name="Tokyo"))
    assert second.currency == "JPY" and "currency" not in second.options


def test_the_money_formatter_reads_codes_and_refuses_others():
    from cartera.core.money import format_money, read_currency

    assert [read_currency(x) for x in ("usd", " EUR ", "€", "£", "US$")] == [
        "USD",
        "EUR",
        "EUR",
        "GBP",
        "USD",
    ]
    for bad in ("$", "XYZ", "EURO2", "", None):
        with pytest.raises(ValueError, match="ISO 4217"):
            read_currency(bad)
    with translation.override("en"):
        assert format_money(Decimal("5"), "USD") == "$5.00"
        assert format_money(Decimal("5"), "CHF") == "5.00\u00a0CHF"


@pytest.mark.parametrize(
    ("language", "words"), [("es", "«ZZZ» no es un código"), ("en", "“ZZZ” is not a currency")]
)
def test_an_order_typed_by_hand_follows_the_same_rule(owner, customer, settings, language, words):
    from django.core.exceptions import ValidationError

    from cartera.sales.services import order_create

    settings.CARTERA_DEFAULT_CURRENCY = "GBP"
    fields = {"ordered_on": "2025-01-05", "amount": "10.00"}
    assert order_create(actor=owner, customer=customer, fields=fields).currency == "GBP"  # the base one
    assert order_create(actor=owner, customer=customer, fields={**fields, "currency": "€"}).currency == "EUR"
    with translation.override(language), pytest.raises(ValidationError) as refused:
        order_create(actor=owner, customer=customer, fields={**fields, "currency": "zzz"})
    assert words in refused.value.message_dict["currency"][0]
