from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cartera.accounts.models import ApiToken, User
from cartera.accounts.services import two_factor_reset


@admin.register(User)
class CarteraUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Django's user admin, plus resetting the two-factor sign-in of someone who lost their phone."""

    list_display = ("username", "email", "first_name", "last_name", "is_staff", "two_factor_enabled")
    actions = ["reset_two_factor"]

    @admin.action(description=_("Reset two-factor sign-in (lost phone)"))
    def reset_two_factor(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """Turn two-factor sign-in off for the chosen users (each reset is in the audit log)."""
        users = list(queryset)
        for user in users:
            two_factor_reset(actor=request.user, user=user)  # type: ignore[arg-type]
        self.message_user(
            request,
            ngettext(
                "Two-factor sign-in reset for %(count)d user; they set it up again at their next sign-in.",
                "Two-factor sign-in reset for %(count)d users; they set it up again at their next sign-in.",
                len(users),
            )
            % {"count": len(users)},
            messages.SUCCESS,
        )


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = ["name", "user", "prefix", "scope", "created_at", "expires_at", "last_used_at"]
    list_filter = ["scope"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    exclude = ["key_hash", "password_fingerprint"]
