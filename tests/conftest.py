"""Shared test personas: an owner (sales rep who owns customers), a colleague (another sales rep),
a manager, an admin and an outsider (an active user with no role)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fast_path_selection import (  # noqa: F401 - pytest hooks, found by name in this module
    pytest_collection_modifyitems,
    pytest_runtest_protocol,
    pytest_sessionfinish,
    pytest_sessionstart,
)
from tests.smtp_server import Recorder, start_server

CDNOW = Path(__file__).resolve().parent / "data" / "cdnow" / "CDNOW_sample.txt"
CDNOW_END = dt.date(1998, 6, 30)


@pytest.fixture(autouse=True)
def _plain_http(settings):
    """Tests talk plain HTTP to the test client and the live server."""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Real password hashing costs about a second per persona; tests do not need its strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _no_remembered_lockouts():
    """A server process remembers recent lockouts for a few seconds; each test's database starts
    without any, and so does its process."""
    from cartera.accounts.throttling import forget_recent_lockouts

    forget_recent_lockouts()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the site's language: a request in English (the test client through
    LocaleMiddleware) leaves English active in the thread, and the next test would read English."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True, scope="session")
def _flush_unlocks_the_audit_log():
    """Tests that flush the database (live server, transactional) must empty the append-only audit log.

    PostgreSQL flushes with TRUNCATE, which its row trigger lets through; SQLite flushes with DELETE,
    which the trigger refuses unless the unlock row exists (migration privacy 0002): the flush is
    wrapped in one.
    """
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    DatabaseOperations = type(connection.ops)
    original = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, **kwargs):
        sql = original(self, style, tables, **kwargs)
        if "privacy_auditentry" not in tables:
            return sql
        unlock = [s for s in sql if "privacy_auditunlock" in s and s.lstrip().upper().startswith("DELETE")]
        rest = [s for s in sql if s not in unlock]
        return ["INSERT INTO privacy_auditunlock (reason) VALUES ('test flush');", *rest, *unlock]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = original


@pytest.fixture
def make_user(db):
    from cartera.accounts.services import user_create

    def make(username: str, role: str, **extra):
        return user_create(username=username, password="s3cret-pass-123", role=role, **extra)

    return make


@pytest.fixture
def owner(make_user):
    return make_user("owner", "sales_rep", first_name="Olga", last_name="Owner")


@pytest.fixture
def colleague(make_user):
    return make_user("colleague", "sales_rep", first_name="Carlos", last_name="Colleague")


@pytest.fixture
def manager(make_user):
    return make_user("manager", "manager", first_name="Marta", last_name="Manager")


@pytest.fixture
def admin_user(make_user):
    """An admin; admins must sign in with a second factor, so this one has an authenticator."""
    from cartera.accounts.services import totp_device_confirm, totp_device_start

    user = make_user("boss", "admin")
    device = totp_device_start(user=user)
    assert totp_device_confirm(user=user, device=device, code=totp_code(device))
    return user


def totp_code(device) -> str:
    """The code ``device``'s authenticator app would show now (one it has not accepted yet)."""
    import time

    from django_otp.oath import TOTP

    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    while totp.t() <= device.last_t:
        totp.time += device.step
    return f"{totp.token():0{device.digits}d}"


def pass_second_factor(client, user) -> None:
    """Mark ``client``'s session as having given ``user``'s second factor (as the code page does)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from cartera.accounts.selectors import confirmed_totp_device

    session = client.session
    session[DEVICE_ID_SESSION_KEY] = confirmed_totp_device(user).persistent_id
    session.save()


@pytest.fixture
def outsider(db):
    from cartera.accounts.models import User

    return User.objects.create_user(username="outsider", password="s3cret-pass-123")


@pytest.fixture
def customer(owner):
    from cartera.customers.services import customer_create

    return customer_create(
        actor=owner,
        fields={
            "first_name": "Lucía",
            "last_name": "Martínez Ortega",
            "email": "Lucia@Example.es",
            "phone": "612 345 678",
        },
    )


def without_tokens(html: str) -> str:
    """A page minus what is new on every render: CSRF tokens, CSP nonces, the time to the second."""
    html = re.sub(r"[A-Za-z0-9]{64}", "TOKEN", html)
    return re.sub(r"\d\d:\d\d:\d\d", "TIME", re.sub(r'nonce="[^"]*"', "NONCE", html))


def login(client, user):
    """Log ``client`` in as ``user``, second factor included when they have one."""
    client.force_login(user)
    if user.two_factor_enabled:
        pass_second_factor(client, user)
    return client


def _build_cdnow(owner, *, max_rows: int | None = None) -> dict[str, int]:
    """Write the CDNOW sample through the ORM (what :func:`load_cdnow` replays afterwards)."""

    from cartera.customers.models import Customer, Stage
    from cartera.sales.models import Order

    rows = [line.split() for line in CDNOW.read_text().splitlines() if line.strip()][:max_rows]
    ids = sorted({int(r[1]) for r in rows})
    regions = ["Madrid", "Barcelona", "Sevilla"]
    Customer.objects.bulk_create(
        [
            Customer(
                id=i,
                first_name=f"Cliente {i}",
                first_name_key=f"cliente {i}",
                stage=Stage.CUSTOMER,
                owner=owner,
                region=regions[i % 3],
                birth_date=dt.date(1960 + i % 40, 1, 1),
            )
            for i in ids
        ]
    )
    Order.objects.bulk_create(
        [
            Order(
                customer_id=int(r[1]),
                ordered_on=dt.datetime.strptime(r[2], "%Y%m%d").date(),
                amount=Decimal(r[4]),
                channel="web" if n % 3 else "store",
                source="cdnow",
                external_ref=str(n),
            )
            for n, r in enumerate(rows)
        ],
        batch_size=2000,
    )
    return {"customers": len(ids), "orders": len(rows)}


# Rows the ORM wrote for the CDNOW sample, by (database vendor, max_rows): building 9,276 model
# objects costs seconds per test; inserting the same rows again costs a fraction of it.
_CDNOW_ROWS: dict[
    tuple[str, int | None], tuple[dict[str, int], list[tuple[str, list[str], list[tuple]]]]
] = {}


def load_cdnow(owner, *, max_rows: int | None = None) -> dict[str, int]:
    """The CDNOW sample as customers of ``owner`` (ids = customer_index) and their orders.

    Customers get a region and a birth date and orders a channel, deterministic from the ids, so
    segments and personas have profile data to work on. The first load in a run goes through the
    ORM; later ones insert the rows it wrote, with this test's owner.
    """
    from django.core.management.color import no_style
    from django.db import connection

    from cartera.customers.models import Customer
    from cartera.sales.models import Order

    key = (connection.vendor, max_rows)
    qn = connection.ops.quote_name
    if key not in _CDNOW_ROWS:
        counts = _build_cdnow(owner, max_rows=max_rows)
        tables = []
        with connection.cursor() as cursor:
            for model in (Customer, Order):
                table = model._meta.db_table
                # The model's own columns only: a database-generated one (PostgreSQL's search
                # document) cannot be written.
                columns = [f.column for f in model._meta.concrete_fields]
                names = ", ".join(qn(c) for c in columns)
                cursor.execute(f"SELECT {names} FROM {qn(table)} ORDER BY id")  # noqa: S608 - a model's table
                tables.append((table, columns, cursor.fetchall()))
        _CDNOW_ROWS[key] = (counts, tables)
    else:
        counts, tables = _CDNOW_ROWS[key]
        with connection.cursor() as cursor:
            for table, columns, rows in tables:
                owner_at = columns.index("owner_id") if "owner_id" in columns else -1
                values = [
                    tuple(owner.pk if n == owner_at else v for n, v in enumerate(row)) for row in rows
                ] if owner_at >= 0 else rows  # fmt: skip
                marks = ", ".join(["%s"] * len(columns))
                names = ", ".join(qn(c) for c in columns)
                cursor.executemany(f"INSERT INTO {qn(table)} ({names}) VALUES ({marks})", values)  # noqa: S608
    # Explicit ids do not move PostgreSQL's sequences: move them so later rows get new ids.
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Customer, Order]):
            cursor.execute(sql)
    return dict(counts)


@pytest.fixture
def cdnow_portfolio(db, owner):
    """2,357 customers and 6,919 orders of the CDNOW sample (Fader, Hardie & Lee 2005)."""
    return load_cdnow(owner)


@pytest.fixture
def cdnow_loader(db, owner):
    """``load(max_rows=None)``: load (part of) the CDNOW sample, for tests that want less of it."""
    return lambda max_rows=None: load_cdnow(owner, max_rows=max_rows)


@pytest.fixture
def cdnow_end():
    """The last day of the CDNOW sample."""
    return CDNOW_END


@pytest.fixture
def analysed_portfolio(cdnow_portfolio, cdnow_end):
    """The CDNOW portfolio refreshed on 1998-06-30 with six month-end snapshots behind it."""
    from cartera.insights.services import insights_backfill, insights_refresh

    insights_backfill(months=6, as_of=cdnow_end)
    insights_refresh(as_of=cdnow_end)
    return cdnow_portfolio


@pytest.fixture
def custom_field_set(admin_user):
    """A custom field of each type; "club" only managers and admins may change (tests/customers/test_custom_fields.py)."""
    from cartera.customers.services import custom_field_create

    made = {}
    for position, (key, label, kind, extra) in enumerate(
        [
            ("shoe", "Talla", "number", {}),
            ("vip_since", "VIP desde", "date", {}),
            ("club", "Tarjeta club", "boolean", {"editable_by": "managers"}),
            ("store", "Tienda habitual", "choice", {"choices": "Centro\nNorte\nSur"}),
            ("hobby", "Aficiones", "text", {}),
        ]
    ):
        made[key] = custom_field_create(
            actor=admin_user, key=key, field_type=kind, fields={"label": label, "position": position, **extra}
        )
    return made


@pytest.fixture
def custom_people(owner, manager, custom_field_set):
    """Ana and Bea with custom values, Eva with none, all owned by ``owner``."""
    from cartera.customers.services import customer_create

    def make(name, **values):
        return customer_create(
            actor=manager, fields={"first_name": name, "owner": owner, "custom_fields": values}
        )

    return {
        "ana": make("Ana", shoe="38", vip_since="2020-05-01", club=True, store="Centro", hobby="Vela y golf"),
        "bea": make("Bea", shoe="41,5", vip_since="2024-01-10", club=False, store="Norte"),
        "eva": make("Eva"),
    }


def smtp_mailers(port: int) -> dict:
    """``MAILERS`` for Django's SMTP backend talking to 127.0.0.1:``port`` (the test mailbox of
    pytest-django is replaced by a real server)."""
    backend = "django.core.mail.backends.smtp.EmailBackend"
    return {"default": {"BACKEND": backend, "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10}}}


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) that Django's SMTP backend sends to, for this test."""
    recorder = Recorder()
    controller = start_server(recorder)
    settings.MAILERS = smtp_mailers(controller.port)
    settings.CARTERA_EMAIL_RATE = 0
    settings.CARTERA_PUBLIC_URL = "https://cartera.example"
    settings.CARTERA_UNSUBSCRIBE_ADDRESS = "baja@cartera.example"
    settings.DEFAULT_FROM_EMAIL = "Tienda <tienda@cartera.example>"
    yield recorder
    controller.stop()


@pytest.fixture
def export_through_worker(settings, tmp_path, django_capture_on_commit_callbacks):
    """``export_through_worker(client, url, headers=None)``: click an export button (a POST), let the
    task worker write the file (tasks run at once here), and download it from My exports; the file's bytes."""
    from django.urls import reverse

    from cartera.imports.models import ExportJob, ExportStatus

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    settings.VAR_DIR = tmp_path

    def run(client, url: str, headers: dict[str, str] | None = None) -> bytes:
        last = ExportJob.objects.order_by("-id").values_list("id", flat=True).first() or 0
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(url, headers=headers or {})
        job = ExportJob.objects.filter(id__gt=last).get()
        assert response.status_code == 302 and response["Location"].endswith(f"#export-{job.pk}")
        job.refresh_from_db()
        assert job.status == ExportStatus.DONE, job.message
        download = client.get(reverse("imports:export_download", args=[job.pk]), headers=headers or {})
        assert download.status_code == 200 and "no-store" in download["Cache-Control"]
        return b"".join(download.streaming_content)

    return run
