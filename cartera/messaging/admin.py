from django.contrib import admin

from cartera.messaging.models import OutboxMessage


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin[OutboxMessage]):
    """Read-only view of the outbox: rows change only through the services and the worker."""

    list_display = ("id", "to_address", "subject", "purpose", "state", "attempts", "sent_at")
    list_filter = ("state", "purpose")
    search_fields = ("to_address", "subject", "reference")

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
