"""Orders imported with a promotion code column (command line and web) are linked to the code, so the
campaign that issued it counts them as redeemed; a code the order form would refuse (unknown, another
customer's, expired, used up) rejects the row with the same reason."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone, translation

from cartera.campaigns import services
from cartera.campaigns.models import Group, Recipient
from cartera.imports.models import ImportJob, ImportRowError, JobStatus
from cartera.sales.models import Order
from tests.campaigns.conftest import checked_results

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _uploads_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def _sent_campaign(manager, portfolio):
    campaign = services.campaign_create(
        actor=manager,
        fields={
            "name": "Cupones",
            "control_percent": 10,
            "frequency_cap_days": 0,
            "promo_mode": "unique",
            "promo_code": "VUELVE",
            "promo_discount": Decimal("10"),
            "promo_valid_until": timezone.localdate() + dt.timedelta(days=30),
            "promo_max_uses": 1,
        },
        segments=[portfolio["at_risk"]],
    )
    campaign = services.campaign_send(actor=manager, campaign=campaign)
    treated = list(
        Recipient.objects.filter(campaign=campaign, group=Group.TREATED)
        .select_related("customer")
        .order_by("customer_id")
    )
    return campaign, treated


def _order_file(treated) -> str:
    """A Spanish spreadsheet's order export: one good code (lower case, as people type it), one used
    twice, one of another customer, one unknown, one used after it expired, and a row without a code."""
    first, second, third, fourth = treated[:4]
    today = timezone.localdate()
    late = today + dt.timedelta(days=40)
    rows = [
        ("P-1", today, first.customer.email, "25,00", first.promo_code.lower()),
        ("P-2", today, second.customer.email, "30,00", second.promo_code),
        ("P-3", today, second.customer.email, "31,00", second.promo_code),
        ("P-4", today, third.customer.email, "32,00", first.promo_code),
        ("P-5", today, third.customer.email, "33,00", "NOEXISTE"),
        ("P-6", late, fourth.customer.email, "34,00", fourth.promo_code),
        ("P-7", today, fourth.customer.email, "35,00", ""),
    ]
    lines = ["Nº pedido;Fecha;Email;Importe;Código promocional"]
    lines += [f"{ref};{day:%d/%m/%Y};{email};{amount};{code}" for ref, day, email, amount, code in rows]
    return "\r\n".join(lines) + "\r\n"


def _check_outcome(campaign, treated, manager):
    first, second = treated[0], treated[1]
    linked = dict(
        Order.objects.filter(promotion__isnull=False).values_list("external_ref", "promotion__code")
    )
    assert linked == {"P-1": first.promo_code, "P-2": second.promo_code}
    imported = Order.objects.filter(external_ref__startswith="P-")
    assert set(imported.values_list("external_ref", flat=True)) == {"P-1", "P-2", "P-7"}
    with translation.override("en"):
        results = checked_results(campaign=campaign, user=manager)
    treated_line = next(line for line in results.lines if line.label == "All who received it")
    assert treated_line.redeemed == 2 and treated_line.bought == 3


def _reasons(job) -> dict[int, str]:
    return dict(ImportRowError.objects.filter(job=job).values_list("row_number", "reason"))


def test_the_command_line_links_imported_orders_to_the_campaign(portfolio, manager, tmp_path):
    campaign, treated = _sent_campaign(manager, portfolio)
    path = tmp_path / "pedidos.csv"
    path.write_bytes(_order_file(treated).encode("cp1252"))
    out = io.StringIO()
    with translation.override("en"):
        call_command("import", str(path), "--user", "manager", "--kind", "orders", "--dry-run", stdout=out)
    assert Order.objects.filter(external_ref__startswith="P-").count() == 0
    dry = ImportJob.objects.get()
    assert dry.columns["Código promocional"] == "promo_code"
    reasons = _reasons(dry)
    assert set(reasons) == {4, 5, 6, 7}, out.getvalue()
    assert "has already been used (1 of 1)" in reasons[4]  # the dry run counts row 3's use
    assert "belongs to another customer" in reasons[5]
    assert "There is no promotion code “NOEXISTE”" in reasons[6]
    assert "expired on" in reasons[7]
    assert "row 5 Código promocional" in out.getvalue()

    with translation.override("en"):
        call_command("import", str(path), "--user", "manager", "--kind", "orders", stdout=io.StringIO())
    job = ImportJob.objects.latest("pk")
    assert set(_reasons(job)) == {4, 5, 6, 7} and job.created_count == 3
    _check_outcome(campaign, treated, manager)
    # Importing the same file again is a no-op: the orders are known, their codes not used twice.
    call_command("import", str(path), "--user", "manager", "--kind", "orders", stdout=io.StringIO())
    again = ImportJob.objects.latest("pk")
    assert again.created_count == 0 and again.error_count == 4
    _check_outcome(campaign, treated, manager)


def test_the_web_import_links_orders_and_explains_refused_codes(
    client, portfolio, manager, settings, django_capture_on_commit_callbacks
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    campaign, treated = _sent_campaign(manager, portfolio)
    client.force_login(manager)
    content = _order_file(treated).encode("utf-8-sig")
    response = client.post(
        reverse("imports:upload"), {"kind": "orders", "file": SimpleUploadedFile("pedidos.csv", content)}
    )
    job = ImportJob.objects.get()
    assert response.status_code == 302
    page = client.get(reverse("imports:mapping", args=[job.pk]))
    assert "Código promocional" in page.text
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    assert "promo_code" in form.values()
    form.update(
        date_order="dmy", decimal_comma="on", duplicate_policy="skip", source="other", action="dry_run"
    )
    assert client.post(reverse("imports:mapping", args=[job.pk]), form).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CHECKED and job.report["create"] == 3 and job.report["error"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("imports:commit", args=[job.pk])).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.DONE
    _check_outcome(campaign, treated, manager)
    rejected = client.get(reverse("imports:rejected", args=[job.pk]))
    rows = list(
        csv.reader(io.StringIO(b"".join(rejected.streaming_content).decode("utf-8-sig")), delimiter=";")
    )
    by_row = {r[0]: r[1] for r in rows[1:]}
    assert set(by_row) == {"4", "5", "6", "7"}
    assert "NOEXISTE" in by_row["6"]
