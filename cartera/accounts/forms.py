from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from cartera.accounts.models import TokenScope

LIFETIMES = (7, 30, 90, 180, 365)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label=_("Token name"), max_length=100, help_text=_("Where you will use it, e.g. “Excel”.")
    )
    scope = forms.ChoiceField(
        label=_("Access"),
        choices=TokenScope.choices,
        initial=TokenScope.READ,
        required=False,
        widget=forms.RadioSelect,
        help_text=_("A read-only token cannot change anything, even if it leaks."),
    )
    days = forms.TypedChoiceField(label=_("Valid for"), coerce=int, choices=(), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        lifetimes = sorted(
            {d for d in LIFETIMES if d <= settings.CARTERA_API_TOKEN_MAX_DAYS}
            | {settings.CARTERA_API_TOKEN_DAYS}
        )
        days_field: forms.TypedChoiceField = self.fields["days"]  # type: ignore[assignment]
        days_field.choices = [
            (d, ngettext("%(days)d day", "%(days)d days", d) % {"days": d}) for d in lifetimes
        ]
        days_field.initial = settings.CARTERA_API_TOKEN_DAYS

    def clean_scope(self) -> str:
        return self.cleaned_data.get("scope") or TokenScope.READ

    def clean_days(self) -> int:
        return self.cleaned_data.get("days") or settings.CARTERA_API_TOKEN_DAYS


class TotpCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}
        ),
    )
