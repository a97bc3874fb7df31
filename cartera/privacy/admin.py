"""Admin views of the privacy records: read-only, and the audit log can be deleted by nobody."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from cartera.privacy.models import AuditEntry, ConsentEvent, PrivacyProfile, SuppressedEmail


class _ReadOnly(admin.ModelAdmin[Any]):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(_ReadOnly):
    list_display = ["at", "actor_name", "action", "target_type", "target_id", "target_label"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_name", "target_label"]


@admin.register(ConsentEvent)
class ConsentEventAdmin(_ReadOnly):
    list_display = ["recorded_at", "customer", "channel", "purpose", "granted", "source", "version"]
    list_filter = ["channel", "purpose", "granted", "source"]
    raw_id_fields = ["customer"]


@admin.register(PrivacyProfile)
class PrivacyProfileAdmin(_ReadOnly):
    list_display = ["customer", "lawful_basis", "language", "erased_at"]
    list_filter = ["lawful_basis", "language"]


@admin.register(SuppressedEmail)
class SuppressedEmailAdmin(_ReadOnly):
    list_display = ["email_hash", "reason", "created_at"]
