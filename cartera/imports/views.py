"""Import, export and duplicate pages. Each view parses input, calls one service or selector, renders."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from cartera.activity.models import Interaction
from cartera.core.scoping import can
from cartera.customers.models import Customer
from cartera.customers.selectors import may_merge
from cartera.imports import exporting, selectors, services
from cartera.imports.forms import MappingForm, UploadForm
from cartera.imports.models import ImportKind, JobStatus
from cartera.imports.parsers import ParseError
from cartera.imports.rejected import rejected_file
from cartera.sales.models import Order


def index(request: HttpRequest) -> HttpResponse:
    if not selectors.can_import(request.user) and not can(request.user, Customer, "export"):
        raise PermissionDenied
    return render(
        request,
        "imports/index.html",
        {
            "form": UploadForm(),
            "jobs": selectors.import_job_list(user=request.user)[:30],
            "can_import": selectors.can_import(request.user),
            "can_export_orders": can(request.user, Order, "export"),
            "can_export_interactions": can(request.user, Interaction, "export"),
            "can_export_customers": can(request.user, Customer, "export"),
            "can_merge": may_merge(request.user),
        },
    )


@require_POST
def upload(request: HttpRequest) -> HttpResponse:
    if not selectors.can_import(request.user):
        raise PermissionDenied
    # Refuse an oversized upload from its declared length, before Django reads the body to disk.
    if int(request.META.get("CONTENT_LENGTH") or 0) > int(settings.CARTERA_MAX_UPLOAD_BYTES) + 65536:
        message = _("The file is larger than %(mb)s MB, the most an import accepts.") % {
            "mb": int(settings.CARTERA_MAX_UPLOAD_BYTES) // 2**20
        }
        return render(
            request,
            "imports/index.html",
            {"form": UploadForm(), "can_import": True, "error": message},
            status=413,
        )
    form = UploadForm(request.POST, request.FILES)
    if form.is_valid():
        kind = form.cleaned_data["kind"]
        if not selectors.can_import(request.user, kind):
            raise PermissionDenied
        upload_file = form.cleaned_data["file"]
        try:
            job = services.import_job_create(
                actor=request.user,  # type: ignore[arg-type]
                upload=upload_file,
                file_name=upload_file.name,
                kind=kind,
                list_origin=form.cleaned_data.get("list_origin") or "own",
            )
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("imports:mapping", pk=job.pk)
    return render(
        request,
        "imports/index.html",
        {"form": form, "jobs": selectors.import_job_list(user=request.user)[:30], "can_import": True},
        status=400,
    )


def mapping(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, pk=pk, action="change")
    if not services.import_job_configurable(job=job):
        return redirect("imports:detail", pk=job.pk)
    saved = selectors.mapping_list(user=request.user, kind=job.kind)
    chosen = None
    if request.GET.get("mapping", "").isdigit():
        chosen = saved.filter(pk=int(request.GET["mapping"])).first()
        if chosen:
            job = services.import_mapping_apply(job=job, mapping=chosen)
    form = MappingForm(request.POST or None, job=job, applied=chosen, read=request.GET.get("read", "")[:60])
    if request.method == "POST" and form.is_valid():
        try:
            services.import_job_configure(
                actor=request.user,  # type: ignore[arg-type]
                job=job,
                columns=form.columns(),
                options=form.options(),
                duplicate_policy=form.cleaned_data["duplicate_policy"],
                source=form.cleaned_data["source"],
                source_detail=form.cleaned_data["source_detail"],
                lawful_basis=form.cleaned_data["lawful_basis"],
                save_as=form.cleaned_data["save_as"],
                mapping_read=form.mapping_read_value(),
                currency=form.currency(),
                list_origin=form.cleaned_data.get("list_origin", ""),
            )
            if request.POST.get("action") == "preview":
                read = form.cleaned_data["mapping_read"]
                query = "?" + urlencode({"read": read}) if read else ""
                return redirect(reverse("imports:mapping", args=[job.pk]) + query)
            services.import_job_check(actor=request.user, job=job)  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("imports:detail", pk=job.pk)
    try:
        preview = selectors.import_job_preview(job=job)
    except ParseError as exc:
        preview = []
        form.add_error(None, str(exc))
    return render(
        request,
        "imports/mapping.html",
        {
            "job": job,
            "form": form,
            "preview": preview,
            "saved": saved,
            "ignored": services.ignored_columns(job),
            "file_problem": selectors.mapping_problem(job=job),
        },
    )


def _job_context(request: HttpRequest, job: Any) -> dict[str, Any]:
    stale = job.status == JobStatus.RUNNING and not services.import_job_is_alive(job=job)
    check_stopped = job.status == JobStatus.CHECKING and services.import_job_configurable(job=job)
    failed_check = services.import_job_failed_dry_run(job=job)
    return {
        "job": job,
        "errors": selectors.rejected_rows(user=request.user, job=job)[:50],
        "notes": selectors.row_notes(user=request.user, job=job)[:100],
        "ignored": services.ignored_columns(job),
        "conflicts": selectors.rollback_conflicts(user=request.user, job=job)[:100]
        if job.status == JobStatus.ROLLED_BACK
        else [],
        "stale": stale,
        "check_stopped": check_stopped,
        "failed_check": failed_check,
        "can_resume": (job.status == JobStatus.FAILED and not failed_check) or stale,
        "can_rollback": (job.status in (JobStatus.DONE, JobStatus.FAILED) and not failed_check) or stale,
    }


def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, pk=pk)
    return render(request, "imports/detail.html", _job_context(request, job))


def progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, pk=pk)
    return render(request, "imports/detail.html#progress", _job_context(request, job))


@require_POST
def commit(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, pk=pk, action="change")
    try:
        services.import_job_enqueue(actor=request.user, job=job)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect("imports:detail", pk=job.pk)


@require_POST
def rollback(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.import_job_get(user=request.user, pk=pk, action="change")
    try:
        job = services.import_job_rollback_enqueue(actor=request.user, job=job)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        if job.status == JobStatus.ROLLED_BACK:  # a worker that runs tasks at once (tests, development)
            messages.success(request, _("The import was rolled back."))
        else:
            messages.success(request, _("The rollback has started; this page shows when it is done."))
    return redirect("imports:detail", pk=job.pk)


def rejected(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    job = selectors.import_job_get(user=request.user, pk=pk)
    stream, charset = rejected_file(job, selectors.rows_not_written(user=request.user, job=job))
    response = StreamingHttpResponse(stream, content_type=f"text/csv; charset={charset}")
    response["Content-Disposition"] = f'attachment; filename="rejected-{job.pk}.csv"'
    return response


# --- exports ----------------------------------------------------------------------------------------------

CONTENT_TYPES = exporting.CONTENT_TYPES


def _export(request: HttpRequest, what: str, fmt: str) -> HttpResponseBase:
    """A small CSV or vCard export streams at once, as it always did. An XLSX, or a CSV or vCard of
    more than ``CARTERA_EXPORT_STREAM_MAX_ROWS`` rows, is written by the worker: a POST (the export
    buttons) asks for it and goes to My exports; a GET (an old link) shows the button.

    Either way the list's filters are cleaned first by the one rule the worker's jobs use
    (``export_filters_clean``): a filter the list does not have (``owner__password``, ``notes``...) or
    a value its form refuses sends the user back to the list with the reason, and nothing is written,
    logged or downloaded; an export never silently widens to the whole list."""
    if fmt not in CONTENT_TYPES or (fmt == "vcf" and what != "customers"):
        raise Http404
    file_format = "csv_es" if fmt == "csv" and request.GET.get("excel") == "es" else fmt
    try:
        filters = services.export_filters_clean(kind=what, filters=request.GET)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect(_export_origin(request, what))
    if request.method == "POST":
        try:
            job = services.export_job_create(
                actor=request.user,  # type: ignore[arg-type]
                kind=what,
                file_format=file_format,
                filters=filters,
            )
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
        else:
            messages.success(request, _("The file is being written; it appears here when it is ready."))
            return redirect(reverse("imports:exports") + f"#export-{job.pk}")
        return redirect("imports:exports")
    qs, header, row = services.export_source(user=request.user, kind=what, filters=filters)  # type: ignore[arg-type]
    count = qs.count()
    if fmt == "xlsx" or count > settings.CARTERA_EXPORT_STREAM_MAX_ROWS:
        return render(
            request,
            "imports/export_confirm.html",
            {"what": what, "file_format": file_format, "fmt": fmt, "count": count,
             "query": request.GET.urlencode(), "label": ImportKind(what).label},
        )  # fmt: skip
    services.export_record(user=request.user, what=what, file_format=fmt, filters=filters, row_count=count)  # type: ignore[arg-type]
    stamp = timezone.localdate().isoformat()
    filename = f"{what}-{stamp}.{fmt}"
    response: HttpResponseBase
    if fmt == "csv":
        spanish = request.GET.get("excel") == "es"
        rows = (row(obj) for obj in exporting.export_objects(qs))
        response = StreamingHttpResponse(
            exporting.csv_stream(header, rows, spanish), content_type=CONTENT_TYPES[fmt]
        )
    else:
        response = StreamingHttpResponse(
            exporting.vcard_stream(exporting.export_objects(qs)), content_type=CONTENT_TYPES[fmt]
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _export_origin(request: HttpRequest, what: str) -> str:
    """Where a refused export goes back to: the customer list with the filters as typed (so the user
    sees them next to the message), or the import and export page."""
    if what != "customers":
        return reverse("imports:index")
    query = request.GET.copy()
    for key in ("excel", "cursor", "dir"):
        query.pop(key, None)
    return reverse("customers:list") + (f"?{query.urlencode()}" if query else "")


@require_http_methods(["GET", "POST"])
def export_customers(request: HttpRequest, fmt: str) -> HttpResponseBase:
    if not can(request.user, Customer, "export"):
        raise PermissionDenied
    return _export(request, "customers", fmt)


@require_http_methods(["GET", "POST"])
def export_orders(request: HttpRequest, fmt: str) -> HttpResponseBase:
    if not can(request.user, Order, "export") or fmt == "vcf":
        raise PermissionDenied
    return _export(request, "orders", fmt)


@require_http_methods(["GET", "POST"])
def export_interactions(request: HttpRequest, fmt: str) -> HttpResponseBase:
    if not can(request.user, Interaction, "export") or fmt == "vcf":
        raise PermissionDenied
    return _export(request, "interactions", fmt)


def exports(request: HttpRequest) -> HttpResponse:
    """My exports: the files the worker wrote (or is writing) for this user, with their progress."""
    if not selectors.can_see_exports(request.user):
        raise PermissionDenied
    jobs = list(selectors.export_job_list(user=request.user)[:50])
    for job in jobs:
        job.filter_words = selectors.export_filters_in_words(job.filters)  # type: ignore[attr-defined]
    return render(request, "imports/exports.html", {"jobs": jobs})


def export_progress(request: HttpRequest, pk: int) -> HttpResponse:
    job = selectors.export_job_get(user=request.user, pk=pk)
    job.filter_words = selectors.export_filters_in_words(job.filters)  # type: ignore[attr-defined]
    return render(request, "imports/exports.html#export_job", {"job": job})


def export_download(request: HttpRequest, pk: int) -> HttpResponseBase:
    """The file, to its requester only (anyone else: 404), while it has not expired."""
    job = selectors.export_job_get(user=request.user, pk=pk)
    try:
        path = services.export_job_download(actor=request.user, job=job)  # type: ignore[arg-type]
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("imports:exports")
    response = FileResponse(
        path.open("rb"),
        content_type=CONTENT_TYPES[job.extension],
        as_attachment=True,
        filename=services.export_job_file_name(job),
    )
    response["Cache-Control"] = "no-store"
    return response
