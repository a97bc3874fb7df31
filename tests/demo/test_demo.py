"""The demo portfolio: deterministic, realistic, and safe to run twice."""

from __future__ import annotations

import datetime as dt
import hashlib
from io import StringIO
from zoneinfo import ZoneInfo

import email_validator
import phonenumbers
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Max, Min, Q

from cartera.accounts.models import User
from cartera.activity.models import Interaction, Task
from cartera.core import bulk
from cartera.core.text import fold
from cartera.customers.models import Company, Customer, Stage, Tag
from cartera.customers.services import customer_create
from cartera.demo import generator, reference
from cartera.demo.generator import DEMO_PASSWORD, DemoError, generate_demo
from cartera.sales.models import Order

TODAY = dt.date(2026, 6, 30)
MADRID = ZoneInfo("Europe/Madrid")
YEAR_AGO = TODAY - dt.timedelta(days=365)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Four demo users per run; the production hasher would dominate the run time.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def portfolio(db):
    return generate_demo(customers=300, seed=1, today=TODAY)


def _digest() -> str:
    """Every customer and order field that the seed decides (ids included)."""
    h = hashlib.sha256()
    customers = Customer.objects.order_by("id").values_list(
        "id", "created_at", "title", "first_name", "last_name", "email", "phone", "stage", "sector",
        "company__tax_id", "job_title", "profession", "birth_date", "address", "city", "region", "postal_code",
        "preferred_channel", "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_mail", "source",
        "income_range", "owner__username", "custom_fields", "notes",
    )  # fmt: skip
    orders = Order.objects.order_by("id").values_list(
        "id", "customer_id", "ordered_on", "amount", "channel", "category", "external_ref", "created_at"
    )
    interactions = Interaction.objects.order_by("id").values_list(
        "customer_id", "occurred_at", "kind", "body"
    )
    for rows in (customers, orders, interactions):
        for row in rows:
            h.update(repr(row).encode())
    return h.hexdigest()


def _wipe() -> None:
    """Empty what the demo wrote (raw deletes: no cascade into apps the test does not know)."""
    with connection.cursor() as cursor:
        for model in (Customer.tags.through, Order, Interaction, Task, Customer, Company, Tag):
            cursor.execute(f"DELETE FROM {connection.ops.quote_name(model._meta.db_table)}")  # noqa: S608


def test_same_seed_gives_the_same_portfolio_and_another_seed_does_not(db):
    generate_demo(customers=200, seed=1, today=TODAY)
    first = _digest()
    _wipe()
    generate_demo(customers=200, seed=1, today=TODAY)
    assert _digest() == first
    _wipe()
    generate_demo(customers=200, seed=2, today=TODAY)
    assert _digest() != first


def test_buyers_of_every_kind_exist(portfolio):
    stats = Customer.objects.annotate(
        n=Count("orders"),
        last=Max("orders__ordered_on"),
        recent=Count("orders", filter=Q(orders__ordered_on__gte=YEAR_AGO)),
    )
    never = stats.filter(n=0)
    assert never.count() > 10
    assert set(never.values_list("stage", flat=True)) <= {Stage.SUSPECT, Stage.PROSPECT}
    assert set(stats.filter(n__gt=0).values_list("stage", flat=True)) <= {Stage.CUSTOMER, Stage.FORMER}
    assert stats.filter(n=1).count() > 5, "one-time buyers"
    assert stats.filter(n__gte=2, recent__gte=1).count() > 50, "active repeat buyers"
    assert stats.filter(n__gte=3, recent=0).count() > 5, "buyers who stopped a year ago or more"
    assert stats.filter(n__gte=20).exists(), "heavy buyers"
    assert Customer.objects.filter(stage=Stage.FORMER).exists()


def test_orders_follow_the_customers(portfolio):
    window = Order.objects.aggregate(first=Min("ordered_on"), last=Max("ordered_on"))
    assert window["first"] >= dt.date(2023, 6, 30)
    assert window["last"] < TODAY
    assert Order.objects.filter(source="demo", external_ref__isnull=False).count() == Order.objects.count()
    assert Order.objects.values("external_ref").distinct().count() == Order.objects.count()
    assert portfolio.orders == Order.objects.count()
    # About ten orders per customer, as asked (the process is random, so loosely).
    assert 6 * 300 < portfolio.orders < 15 * 300
    assert not Order.objects.filter(amount__lte=0).exists()
    for order in Order.objects.select_related("customer").order_by("?")[:200]:
        assert order.created_at >= order.customer.created_at
        assert order.ordered_on == order.created_at.astimezone(MADRID).date()


def test_contact_details_are_valid_unique_and_searchable(portfolio):
    emails = [e for e in Customer.objects.values_list("email", flat=True) if e]
    assert len(emails) > 250
    assert len(set(emails)) == len(emails)
    for email in emails:
        assert email == email.lower()
        assert email_validator.validate_email(email, check_deliverability=False).normalized.lower() == email
        assert email.split("@")[1].split(".")[-1] in {"com", "net", "org", "example"}
    phones = [p for p in Customer.objects.values_list("phone", flat=True) if p]
    assert len(phones) > 250
    for phone in phones:
        number = phonenumbers.parse(phone, None)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
        assert phone[3] in "67"
    for first, last, first_key, last_key, postal, region in Customer.objects.values_list(
        "first_name", "last_name", "first_name_key", "last_name_key", "postal_code", "region"
    ):
        assert first_key == fold(first) and last_key == fold(last)
        code = next(p.code for p in reference.PROVINCES if p.name == region)
        assert postal.startswith(code) and len(postal) == 5
    assert Customer.objects.filter(company__isnull=False).count() > 15
    assert Company.objects.count() > 5
    for company in Company.objects.all():
        assert company.name_key == fold(company.name)
        assert company.tax_id[0] in "ABF" and len(company.tax_id) == 9


def test_team_timeline_and_tasks(portfolio):
    users = {u.username: u for u in User.objects.all()}
    assert {"admin", "manager", "ana", "luis"} <= set(users)
    assert all(users[name].check_password(DEMO_PASSWORD) for name in ("admin", "manager", "ana", "luis"))
    assert users["admin"].role == "admin" and users["ana"].role == "sales_rep"
    owners = set(Customer.objects.values_list("owner__username", flat=True))
    assert {"ana", "luis"} <= owners
    assert Interaction.objects.count() > 200
    assert set(Interaction.objects.values_list("author__username", flat=True)) <= {"ana", "luis", "manager"}
    for name in ("ana", "luis"):
        tasks = Task.objects.filter(assignee=users[name])
        due_dates = [t.due_at.astimezone(MADRID).date() for t in tasks.filter(done=False)]
        assert any(d < TODAY for d in due_dates), "overdue"
        assert any(d == TODAY for d in due_dates), "due today"
        assert tasks.filter(done=True).exists()
    assert Tag.objects.filter(name="VIP", customers__isnull=False).exists()


def test_the_file_stays_usable_after_the_demo(portfolio):
    # Ids were written explicitly: the database must hand out the next ones.
    customer = customer_create(actor=User.objects.get(username="ana"), fields={"first_name": "Nueva"})
    assert customer.pk == Customer.objects.aggregate(top=Max("id"))["top"]
    with pytest.raises(DemoError):
        generate_demo(customers=10, seed=1, today=TODAY)


def test_command_if_empty_does_nothing_the_second_time(db):
    out = StringIO()
    call_command(
        "demo", "--customers", "60", "--if-empty", "--today", "2026-06-30", "--lang", "en", stdout=out
    )
    assert Customer.objects.count() == 60
    text = out.getvalue()
    assert "cartera-demo" in text and "ana" in text and "luis" in text
    orders = Order.objects.count()
    out = StringIO()
    call_command("demo", "--customers", "60", "--if-empty", "--lang", "en", stdout=out)
    assert "already" in out.getvalue()
    assert (Customer.objects.count(), Order.objects.count()) == (60, orders)
    with pytest.raises(CommandError, match="not empty"):
        call_command("demo", "--customers", "60", "--lang", "en", stdout=StringIO())


def _schema() -> set[tuple[str, str, str]]:
    """Every secondary index and foreign key of the bulk-loaded tables, with its definition."""
    tables = [m._meta.db_table for m in (Customer, Customer.tags.through, Order, Interaction)]
    found = set()
    for table in tables:
        found |= {(table, name, sql) for name, sql in bulk.secondary_indexes(table)}
        found |= {(table, f"fk:{name}", sql) for name, sql in bulk.foreign_keys(table)}
    return found


def test_bulk_load_rebuilds_every_index(db, monkeypatch):
    """The big size drops indexes (and PostgreSQL foreign keys) during the load; all come back."""
    before = _schema()
    assert len(before) > 15
    monkeypatch.setattr(generator, "BULK_LOAD_THRESHOLD", 1)
    stats = generate_demo(customers=120, seed=3, today=TODAY)
    assert _schema() == before
    assert stats.customers == Customer.objects.count() == 120
    assert stats.orders == Order.objects.count() > 0
