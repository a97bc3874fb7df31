"""A customer list's origin: a purchased list needs its lawful basis, its dry run shows how well its
rows fit the customers who bring the revenue, and importing it gives the importer a task to inform the
people within a month (GDPR Art. 14)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from cartera.activity.models import Task
from cartera.customers.models import Customer, Source, Stage
from cartera.customers.services import customer_create
from cartera.imports.models import ImportJob, JobStatus, ListOrigin
from cartera.imports.services import import_job_configure, import_job_run
from cartera.imports.services.origin import _one_month_after
from cartera.insights.models import CustomerMetrics

pytestmark = pytest.mark.django_db

# Four rows like the top customers (industry in Madrid), one like the rest, one unknown, one bad.
PURCHASED = (
    "Nombre;Apellidos;Correo;Sector;Provincia\n"
    "Ana;Ruiz;ana@example.es;Industria;Madrid\n"
    "Luis;Mora;luis@example.es;industria;MADRID\n"
    "Rita;Paz;rita@example.es;Industria;Madrid\n"
    "Juan;Sol;juan@example.es;Industria;Madrid\n"
    "Bea;Gil;bea@example.es;Hostelería;Bilbao\n"
    "Eva;Luna;eva@example.es;;\n"
    "Mal;Correo;no-es-correo;;\n"
)


@pytest.fixture
def portfolio(owner):
    """The top fifth of revenue is industrial and in Madrid; the rest are shops and bars elsewhere."""

    def buyer(i, sector, region, revenue):
        person = customer_create(actor=owner, fields={"first_name": f"C{i}", "sector": sector, "region": region,
                                                      "stage": Stage.CUSTOMER, "source": "referral"})  # fmt: skip
        CustomerMetrics.objects.create(customer=person, revenue=Decimal(revenue), computed_at=timezone.now())

    for i in range(12):
        buyer(i, "Industria", "Madrid", 5000 + i)
    for i in range(12, 60):
        buyer(i, ["Comercio", "Hostelería"][i % 2], ["Sevilla", "Bilbao", "Valencia"][i % 3], 100 + i)


def _mapping_form(job, **extra):
    form = {f"col_{i}": job.columns.get(h, "") for i, h in enumerate(job.headers)}
    form.update(date_order="dmy", decimal_comma="on", phone_region="ES", duplicate_policy="skip",
                source=job.source, source_detail="", lawful_basis="", list_origin=job.list_origin,
                action="dry_run")  # fmt: skip
    form.update(extra)
    return form


@pytest.mark.parametrize("language", ["es", "en"])
def test_a_purchased_list_through_the_web(
    client, owner, portfolio, settings, django_capture_on_commit_callbacks, language
):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    client.force_login(owner)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    index = client.get(reverse("imports:index"), **headers).content.decode()
    assert 'name="list_origin"' in index
    upload = SimpleUploadedFile("comprada.csv", PURCHASED.encode())
    response = client.post(reverse("imports:upload"), {"kind": "customers", "file": upload,
                                                       "list_origin": "purchased"}, **headers)  # fmt: skip
    job = ImportJob.objects.get()
    assert response.status_code == 302 and job.list_origin == ListOrigin.PURCHASED
    assert job.source == Source.PURCHASED_LIST  # what the origin suggests; the mapping page can change it
    # Without a lawful basis the list is refused, with the reason, and nothing is checked.
    page = client.post(reverse("imports:mapping", args=[job.pk]), _mapping_form(job), **headers)
    assert page.status_code == 200
    assert {"es": "necesita su base jurídica", "en": "needs its lawful basis"}[
        language
    ] in page.content.decode()
    job.refresh_from_db()
    assert job.status == JobStatus.UPLOADED
    basis = "Interés legítimo; el proveedor Datos SA acredita el consentimiento para ceder los datos"
    form = _mapping_form(job, lawful_basis=basis, source_detail="Datos SA")
    assert client.post(reverse("imports:mapping", args=[job.pk]), form, **headers).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CHECKED and job.report["create"] == 6 and job.report["error"] == 1
    fit = job.fit
    assert fit["scored"] and fit["rows"] == 6
    counts = {band["low"]: band["count"] for band in fit["bands"]}
    assert counts[80] == 4 and sum(counts.values()) == 6 and counts[0] >= 1
    assert [row["row"] for row in fit["top"][:4]] == [2, 3, 4, 5] and fit["top"][-1]["row"] == 6
    assert any("Madrid" in reason or "madrid" in reason for reason in fit["top"][0]["why"])
    detail = client.get(reverse("imports:detail", args=[job.pk]), **headers).content.decode()
    assert 'id="fit-distribution"' in detail and 'data-band="80"' in detail
    assert {"es": "Fila 2", "en": "Row 2"}[language] in detail
    assert {"es": "Una lista comprada", "en": "A purchased or rented list"}[language] in detail
    assert not Customer.objects.filter(email="ana@example.es").exists()  # a dry run writes nothing
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("imports:commit", args=[job.pk]), **headers).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.created_count == 6
    assert Customer.objects.get(email="ana@example.es").source == Source.PURCHASED_LIST
    task = Task.objects.get()
    due = _one_month_after(timezone.localdate())
    assert task.assignee == owner and not task.done and job.report["art14_task"] == task.pk
    assert timezone.localdate(task.due_at) == due
    assert (
        "art. 14" in task.title.lower()
        and "6" in task.notes
        and "Datos SA" in task.notes
        and basis in task.notes
    )
    assert {"es": "Informar", "en": "Inform"}[language] in task.title
    detail = client.get(reverse("imports:detail", args=[job.pk]), **headers).content.decode()
    assert 'id="art14-task"' in detail and 'id="fit-distribution"' in detail
    assert task.title in client.get(reverse("activity:my_tasks"), **headers).content.decode()


def test_other_lists_need_no_basis_and_get_no_task(owner, portfolio, start_job):
    for origin in (ListOrigin.OWN, ListOrigin.EVENT, ListOrigin.OTHER):
        job = start_job(owner, PURCHASED)
        job.list_origin = origin
        job.save()
        import_job_configure(actor=owner, job=job, columns=job.columns, options={})
        import_job_run(job=job, dry_run=True)
        import_job_run(job=job, dry_run=False)
        Customer.objects.filter(email__endswith="@example.es").delete()
    assert not Task.objects.exists()


def test_the_basis_is_checked_by_the_service_and_the_task_made_once(owner, start_job):
    job = start_job(owner, PURCHASED)
    with pytest.raises(ValidationError) as refused:
        import_job_configure(actor=owner, job=job, columns=job.columns, options={}, list_origin="purchased")
    assert "lawful_basis" in refused.value.message_dict
    with pytest.raises(ValidationError):
        import_job_configure(actor=owner, job=job, columns=job.columns, options={}, list_origin="bought")
    import_job_configure(actor=owner, job=job, columns=job.columns, options={}, list_origin="purchased",
                         lawful_basis="Consentimiento del proveedor")  # fmt: skip
    job = import_job_run(job=job, dry_run=True)
    # Too few paying customers to learn from: the dry run says so instead of scoring.
    assert job.fit == {"rows": 6, "scored": False}
    job = import_job_run(job=job, dry_run=False)
    from cartera.imports.services.origin import purchased_list_notice

    assert purchased_list_notice(job=job) is None  # once per job
    assert Task.objects.filter(assignee=owner).count() == 1


@pytest.mark.parametrize(("day", "due"), [
    (dt.date(2026, 12, 3), dt.date(2027, 1, 3)),
    (dt.date(2027, 1, 31), dt.date(2027, 2, 28)),
    (dt.date(2028, 1, 31), dt.date(2028, 2, 29)),
    (dt.date(2026, 3, 15), dt.date(2026, 4, 15)),
])  # fmt: skip
def test_one_month_after(day, due):
    assert _one_month_after(day) == due
