"""The log of exports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cartera.accounts.models import User
from cartera.imports.models import ExportLog


def export_record(
    *, user: User, what: str, file_format: str, filters: Mapping[str, Any], row_count: int
) -> ExportLog:
    """Write down an export: who, when, what, in which format and how many rows."""
    return ExportLog.objects.create(
        user=user, what=what, file_format=file_format, filters=dict(filters), row_count=row_count
    )
