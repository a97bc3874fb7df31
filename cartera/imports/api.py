"""REST API for exports: ask for an export file, follow it, download it (docs/api.md).

The file is written by the task worker with the requester's rights at that moment; only the
requester reads the job or downloads the file (anyone else: 404). No ``from __future__ import
annotations``: django-ninja reads the annotations at run time.
"""

import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest
from django.utils.translation import get_language, gettext
from ninja import Field, Router, Schema, Status

from cartera.core.api_common import CREATE_ERRORS, READ_ERRORS, ErrorOut, InSchema, responses
from cartera.imports import exporting, selectors, services
from cartera.imports.models import ExportFormat, ExportJob, ExportStatus, ImportKind

export_router = Router(tags=["exports"])


class ExportIn(InSchema):
    kind: ImportKind = Field(description="`customers`, `orders` or `interactions`.")
    format: ExportFormat = Field(
        ExportFormat.CSV,
        description="`csv`, `csv_es` (`;` and decimal comma, for Spanish Excel), `xlsx`, or `vcf` (customers).",
    )
    filters: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Customers only: the customer list's filters by their query-parameter names (`q`, `stage`, "
            "`owner`, `tag`, `sector`, `source`, `lifecycle`, `rfm_segment`, `abc_class`, `declining`, "
            "`left_from`, `left_to`, `cf_<key>`)."
        ),
    )


class ExportJobOut(Schema):
    id: int
    kind: str
    format: str = Field(description="The file's format.")
    filters: dict[str, str]
    status: ExportStatus
    rows_written: int
    total_rows: int
    percent: int
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    expires_at: datetime.datetime | None = Field(description="The file can be downloaded until then.")
    downloadable: bool
    file_url: str | None = Field(description="`GET` it for the file while `downloadable`.")
    message: str
    waiting_for_worker: bool = Field(
        description="Still queued two minutes after it was asked for: the background worker seems not "
        "to be running (`make run` starts it; in production `manage.py db_worker`, see docs/operations.md)."
    )
    notice: str = Field(
        description="What `waiting_for_worker` means, in words, in the request's language; empty otherwise."
    )

    @staticmethod
    def resolve_waiting_for_worker(obj: ExportJob) -> bool:
        return obj.is_waiting_for_worker

    @staticmethod
    def resolve_notice(obj: ExportJob) -> str:
        if not obj.is_waiting_for_worker:
            return ""
        return gettext(
            "This export has not started: the background worker does not seem to be running. "
            "The file is written as soon as it runs."
        )

    @staticmethod
    def resolve_format(obj: ExportJob) -> str:
        return obj.file_format

    @staticmethod
    def resolve_rows_written(obj: ExportJob) -> int:
        return obj.row_count

    @staticmethod
    def resolve_downloadable(obj: ExportJob) -> bool:
        return obj.is_downloadable()

    @staticmethod
    def resolve_file_url(obj: ExportJob) -> str | None:
        return f"/api/exports/{obj.pk}/file" if obj.is_downloadable() else None


@export_router.post(
    "", response=responses({202: ExportJobOut}, *CREATE_ERRORS), summary="Ask for an export file"
)
def create_export(request: HttpRequest, payload: ExportIn) -> Any:
    """Queues the export in the worker and answers 202 with the job; follow it with
    `GET /api/exports/{id}`. Needs the export permission of `kind` (403 without it).

    422 (`{"detail": [{"loc": ["body"], "msg": "...", "type": "invalid"}]}`, the message in the
    request's language) when a filter is not one of the customer list's, when the list's form refuses
    its value, when `kind` is not `customers` and filters are given, or when the format does not fit
    the kind: an export is never widened by dropping a filter."""
    user = request.auth  # type: ignore[attr-defined]
    job = services.export_job_create(
        actor=user,
        kind=payload.kind,
        file_format=payload.format,
        filters=payload.filters,
        language=get_language() or "",
    )
    job.refresh_from_db()
    return Status(202, job)


@export_router.get(
    "/{int:export_id}", response=responses({200: ExportJobOut}, *READ_ERRORS), summary="An export's progress"
)
def get_export(request: HttpRequest, export_id: int) -> Any:
    """Your own export jobs only (anyone else's is a 404)."""
    return selectors.export_job_get(user=request.auth, pk=export_id)  # type: ignore[attr-defined]


FILE_ERRORS = {409: ErrorOut, 410: ErrorOut}


@export_router.get(
    "/{int:export_id}/file",
    response={**responses({200: None}, *READ_ERRORS), **FILE_ERRORS},
    summary="Download an export file",
    openapi_extra={
        "responses": {
            200: {
                "description": "The file (CSV, XLSX or vCard), as an attachment.",
                "content": {
                    "text/csv": {"schema": {"type": "string", "format": "binary"}},
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                        "schema": {"type": "string", "format": "binary"}
                    },
                    "text/vcard": {"schema": {"type": "string", "format": "binary"}},
                },
            }
        }
    },
)
def get_export_file(request: HttpRequest, export_id: int) -> Any:
    """The requester's file only (anyone else: 404); 409 while it is being written or when it failed,
    410 once it has expired. Each download is recorded in the audit log."""
    user = request.auth  # type: ignore[attr-defined]
    job = selectors.export_job_get(user=user, pk=export_id)
    try:
        path = services.export_job_download(actor=user, job=job)
    except ValidationError as exc:
        return Status(410 if exc.code == "expired" else 409, {"detail": exc.messages[0]})
    response = FileResponse(
        path.open("rb"),
        content_type=exporting.CONTENT_TYPES[job.extension],
        as_attachment=True,
        filename=services.export_job_file_name(job),
    )
    response["Cache-Control"] = "no-store"
    return response
