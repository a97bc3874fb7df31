"""Forms of the campaign pages: the settings of a campaign and one message (with its variants)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from cartera.campaigns.models import Campaign, Channel
from cartera.campaigns.personalisation import VARIABLES
from cartera.campaigns.services import CAMPAIGN_FIELDS
from cartera.core.forms import ServiceModelForm
from cartera.segments.models import Segment


class CampaignForm(ServiceModelForm):
    """A campaign's goal, measurement and promotion."""

    class Meta:
        model = Campaign
        fields = list(CAMPAIGN_FIELDS)  # the one list of what a person sets on a campaign
        widgets = {"promo_valid_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}


class CampaignCreateForm(CampaignForm):
    """A new campaign: its settings and the segments it goes to (one message each, in this order)."""

    segments = forms.ModelMultipleChoiceField(
        label=_("Segments"),
        queryset=Segment.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Each segment gets its own message; a customer in several gets the first one's."),
    )

    def __init__(self, *args: Any, segments: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["segments"]
        assert isinstance(field, forms.ModelMultipleChoiceField)
        field.queryset = segments if segments is not None else Segment.objects.none()


def variables_help() -> str:
    return ", ".join("{{ " + name + " }}" for name in VARIABLES)


class MessageForm(forms.Form):
    """What one segment gets: an e-mail (variant A, optionally B) or a call."""

    channel = forms.ChoiceField(label=_("Channel"), choices=Channel.choices)
    talking_points = forms.CharField(
        label=_("Talking points (call)"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )
    a_subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    a_body = forms.CharField(label=_("Text"), required=False, widget=forms.Textarea(attrs={"rows": 8}))
    a_subject_en = forms.CharField(label=_("Subject in English (optional)"), max_length=200, required=False)
    a_body_en = forms.CharField(
        label=_("Text in English (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )
    b_enabled = forms.BooleanField(label=_("Try a variant B"), required=False)
    b_share = forms.IntegerField(
        label=_("Share that gets B (%)"), min_value=1, max_value=99, required=False, initial=50
    )
    b_subject = forms.CharField(label=_("Subject B"), max_length=200, required=False)
    b_body = forms.CharField(label=_("Text B"), required=False, widget=forms.Textarea(attrs={"rows": 8}))
    b_subject_en = forms.CharField(label=_("Subject B in English (optional)"), max_length=200, required=False)
    b_body_en = forms.CharField(
        label=_("Text B in English (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 6})
    )

    def variants(self) -> list[dict[str, Any]]:
        """The variants as the service takes them."""
        data = self.cleaned_data
        b_share = int(data.get("b_share") or 50) if data.get("b_enabled") else 0
        rows = [
            {
                "label": "A",
                "share": 100 - b_share,
                "subject": data["a_subject"],
                "body": data["a_body"],
                "subject_en": data["a_subject_en"],
                "body_en": data["a_body_en"],
            }
        ]
        if b_share:
            rows.append(
                {
                    "label": "B",
                    "share": b_share,
                    "subject": data["b_subject"],
                    "body": data["b_body"],
                    "subject_en": data["b_subject_en"],
                    "body_en": data["b_body_en"],
                }
            )
        return rows


def message_initial(message: Any) -> dict[str, Any]:
    """The form's initial values from a stored message and its variants."""
    initial: dict[str, Any] = {"channel": message.channel, "talking_points": message.talking_points}
    for v in message.variants.all():
        prefix = v.label.lower()
        initial.update(
            {
                f"{prefix}_subject": v.subject,
                f"{prefix}_body": v.body,
                f"{prefix}_subject_en": v.subject_en,
                f"{prefix}_body_en": v.body_en,
            }
        )
        if v.label == "B":
            initial["b_enabled"] = True
            initial["b_share"] = v.share
    return initial


class ReplyForm(forms.Form):
    """A reply to the campaign's e-mail, pasted by the user: who sent it and its text."""

    email = forms.EmailField(label=_("Customer's e-mail address"))
    text = forms.CharField(
        label=_("Text of the reply"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000
    )
