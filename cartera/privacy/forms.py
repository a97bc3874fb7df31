"""Forms of the privacy pages: a consent grant or withdrawal, the lawful basis, the erasure
confirmation and the audit-log filters."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from cartera.accounts.models import User
from cartera.privacy.models import AuditAction, ConsentChannel, ConsentPurpose, ConsentSource, LawfulBasis
from cartera.privacy.selectors import AuditFilters

RECORDABLE_SOURCES = [
    (value, label)
    for value, label in ConsentSource.choices
    if value not in (ConsentSource.MIGRATION, ConsentSource.ERASURE)
]


class ConsentForm(forms.Form):
    channel = forms.ChoiceField(label=_("Channel"), choices=ConsentChannel.choices)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=ConsentPurpose.choices)
    granted = forms.TypedChoiceField(
        label=_("Consent"),
        choices=[("1", _("Granted")), ("0", _("Withdrawn"))],
        coerce=lambda v: v == "1",
    )
    source = forms.ChoiceField(
        label=_("How it was given"), choices=RECORDABLE_SOURCES, initial=ConsentSource.CALL
    )
    wording = forms.CharField(
        label=_("Exact wording"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("The sentence the person agreed to, word for word (needed for a grant)."),
    )
    version = forms.CharField(label=_("Wording version"), required=False, max_length=40)


class PrivacyProfileForm(forms.Form):
    """The lawful basis, its note and the person's language; ``version`` is the saved state the editor
    started from, so that a save based on an older one is refused (lost update)."""

    lawful_basis = forms.ChoiceField(label=_("Lawful basis"), choices=LawfulBasis.choices)
    basis_note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )
    language = forms.ChoiceField(
        label=_("Language of the person"), required=False, choices=[("", "—"), *settings.LANGUAGES]
    )
    version = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)


class EraseForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Why"),
        choices=[
            ("erasure", _("The person asked to be erased (Art. 17)")),
            ("objection", _("The person objected to the processing (Art. 21)")),
        ],
    )
    confirmation = forms.CharField(label=_("Type the confirmation"), max_length=40)


class AuditFilterForm(forms.Form):
    actor = forms.ModelChoiceField(label=_("Who"), queryset=User.objects.order_by("username"), required=False)
    action = forms.ChoiceField(label=_("Action"), choices=[("", "—"), *AuditAction.choices], required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    target = forms.IntegerField(label=_("Record id"), required=False, min_value=1, max_value=2**62)

    def filters(self) -> AuditFilters:
        if not self.is_valid():
            return AuditFilters()
        data = self.cleaned_data
        return AuditFilters(
            actor_id=data["actor"].pk if data["actor"] else None,
            action=data["action"] or "",
            since=data["since"],
            until=data["until"],
            target_id=data["target"],
        )
