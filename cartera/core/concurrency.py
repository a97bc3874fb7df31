"""Optimistic concurrency: an edit based on an older saved state of a row is refused (lost update).

Every editable model keeps ``updated_at`` (:class:`cartera.core.models.TimeStampedModel`); its value
names the saved state ("version"). An edit page carries the version it was read at in a hidden field,
an API client sends the ``ETag`` of its last read back in ``If-Match``, and the update service calls
:func:`check_version` inside its transaction: the row is locked and compared, so of two editors of the
same version exactly one wins, and the other is shown what was saved meanwhile instead of losing it.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db import models
from django.http import HttpRequest, QueryDict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

DEFAULT_STALE_MESSAGE = gettext_noop(
    "Someone else saved this after you opened it, so your changes were not saved. Their values are "
    "shown next to yours; check them and save again."
)


class StaleEditError(forms.ValidationError):
    """The row was saved by someone else after the editor read it; nothing was written.

    ``current`` is the row as stored now, so the editor can see the other person's changes.
    """

    def __init__(self, message: str, current: models.Model) -> None:
        super().__init__(message, code="stale")
        self.current = current


def version_of(instance: models.Model) -> str:
    """Which saved state of the row ``instance`` is ("" for one never saved)."""
    stamp = getattr(instance, "updated_at", None)
    return stamp.isoformat() if stamp else ""


def check_version(instance: models.Model, expected: str | None, message: str | None = None) -> None:
    """Refuse with :class:`StaleEditError` when the row was saved after the ``expected`` version.

    Call it inside the update's transaction, before writing: the row is locked until the transaction
    ends, so a second editor waits and then sees the first one's version. ``None`` means the caller
    sent no version (an API client without ``If-Match``): last write wins, as documented.
    """
    if expected is None or instance.pk is None:
        return
    manager = type(instance)._default_manager
    current = manager.select_for_update().get(pk=instance.pk)
    if version_of(current) != expected:
        # ``_`` is looked up now, in the editor's language (the default names no request).
        raise StaleEditError(message or _(DEFAULT_STALE_MESSAGE), current)


# --- the API: ETag out, If-Match in -----------------------------------------------------------------


def etag(instance: models.Model) -> str:
    """The ``ETag`` header value for ``instance``'s saved state."""
    return f'"{version_of(instance)}"'


def if_match(request: HttpRequest) -> str | None:
    """The version named by the request's ``If-Match`` header (``None`` when absent or ``*``)."""
    header = request.headers.get("If-Match", "").strip()
    if not header or header == "*":
        return None
    return header.removeprefix("W/").strip('"')


def stale_answer_detail() -> dict[str, str]:
    """The JSON body of the 412 answer to a PATCH whose ``If-Match`` names an older version."""
    return {"detail": _("Someone else saved this since your read (If-Match): read it again, then retry.")}


# --- web forms: a hidden version, and the other person's values after a refusal ----------------------


class VersionedFormMixin(forms.BaseForm):
    """A model form that carries the version it was read at, and can show a refused save's conflicts.

    Put it before ``ModelForm`` in the bases; the view passes :meth:`expected_version` to the update
    service and calls :meth:`show_stale_edit` when the service raises :class:`StaleEditError`.
    """

    instance: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"] = forms.CharField(
            required=False,
            widget=forms.HiddenInput,
            max_length=64,
            initial=version_of(self.instance) if self.instance.pk else "",
        )

    def expected_version(self) -> str | None:
        """The version the editor started from (``None`` for a post without one, as from a script)."""
        return self.cleaned_data.get("version") or None

    def stored_form(self, current: models.Model) -> VersionedFormMixin:
        """An unbound copy of this form showing ``current``; forms with more arguments override it."""
        return type(self)(instance=current)

    def show_stale_edit(self, current: models.Model) -> None:
        """After a refused save: keep what the editor typed, show the stored value next to every field
        where it differs, and take the stored version, so that saving again is a deliberate choice."""
        stored = self.stored_form(current)
        for name, field in self.fields.items():
            if name == "version" or field.disabled or name not in stored.fields:
                continue
            before = stored[name].initial
            if field.has_changed(before, self[name].data):
                shown = _display(field, before, current, name)
                self.add_error(name, _("Saved meanwhile: %(value)s") % {"value": shown or _("(empty)")})
        data = cast(QueryDict, self.data).copy()
        data["version"] = version_of(current)
        self.data = data


def _display(field: forms.Field, value: Any, current: models.Model, name: str) -> str:
    """A stored value as the editor would recognise it (a choice's label, a related row's name)."""
    if isinstance(value, list | tuple | models.QuerySet):  # a multiple choice: every choice, in order
        if isinstance(field, forms.ModelMultipleChoiceField):
            return ", ".join(str(row) for row in value)
        labels = dict(getattr(field, "choices", None) or [])
        return ", ".join(str(labels[v]) for v in value if v in labels)  # as the boxes show them
    if isinstance(field, forms.ModelChoiceField):
        return str(getattr(current, name, "") or "")
    if isinstance(field, forms.BooleanField):
        return str(_("yes") if value else _("no"))
    choices = getattr(field, "choices", None)
    if choices is not None:
        return str(dict(choices).get(value, value or ""))
    return "" if value is None else str(value)
