"""Admin views of the import and export log (read-only: the records are the history)."""

from django.contrib import admin

from cartera.imports.models import ExportLog, ImportJob, ImportMapping


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin[ImportJob]):
    list_display = [
        "file_name",
        "kind",
        "status",
        "created_by",
        "created_at",
        "created_count",
        "updated_count",
    ]
    list_filter = ["kind", "status", "source"]
    readonly_fields = [f.name for f in ImportJob._meta.fields]


@admin.register(ImportMapping)
class ImportMappingAdmin(admin.ModelAdmin[ImportMapping]):
    list_display = ["name", "kind", "created_by", "created_at"]


@admin.register(ExportLog)
class ExportLogAdmin(admin.ModelAdmin[ExportLog]):
    list_display = ["what", "file_format", "row_count", "user", "created_at"]
    readonly_fields = [f.name for f in ExportLog._meta.fields]
