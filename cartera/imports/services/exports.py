"""The log of exports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cartera.accounts.models import User
from cartera.core import hooks
from cartera.imports.models import ExportLog


def export_record(
    *, user: User, what: str, file_format: str, filters: Mapping[str, Any], row_count: int
) -> ExportLog:
    """Write down an export: who, when, what, in which format and how many rows.

    It goes to the export log and, as one "exported" line (not one per row), to the audit log, which
    no one can delete (the privacy app answers the hook).
    """
    log = ExportLog.objects.create(
        user=user, what=what, file_format=file_format, filters=dict(filters), row_count=row_count
    )
    hooks.fire(
        "audited",
        actor=user,
        action="exported",
        target_type=f"imports.export.{what}",
        target_id=log.pk,
        label=f"{what} ({row_count})",
        detail={"format": file_format, "filters": dict(filters), "rows": row_count},
    )
    return log
