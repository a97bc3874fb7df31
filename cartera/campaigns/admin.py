from django.contrib import admin

from cartera.campaigns.models import Campaign, Recipient


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin[Campaign]):
    """Campaigns are made and sent in the app; the admin only lists them."""

    list_display = ("name", "goal", "status", "sent_at", "created_by")
    list_filter = ("status", "goal")
    search_fields = ("name",)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin[Recipient]):
    """The frozen audience of each campaign, read-only."""

    list_display = ("campaign", "customer", "group", "reason", "promo_code")
    list_filter = ("group", "reason")
    raw_id_fields = ("customer",)

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
