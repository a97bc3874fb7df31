"""Shared model building blocks."""

from __future__ import annotations

import functools
from typing import Any

from django.db import models
from django.utils.encoding import force_str
from django.utils.translation import gettext_lazy as _

from cartera.core.concurrency import version_of


@functools.cache
def _choice_labels(field: models.Field) -> dict[Any, Any]:  # type: ignore[type-arg]
    """A field's value -> label table (labels stay lazy: translated when shown). Choices are fixed
    in this project's models (no callables), so the table is made once per field."""
    return dict(field.flatchoices)


class ChoiceLabels(models.Model):
    """``get_FOO_display()`` from a table made once per field. Django's builds a dictionary of every
    choice, hashing each lazy label (a translation each), on every call: 100 calls per customer
    list page (stage and status of 50 rows) cost ~4 ms of its CPU. Same result
    (tests/core/test_choice_labels.py)."""

    class Meta:
        abstract = True

    def _get_FIELD_display(self, field: models.Field) -> Any:  # type: ignore[type-arg] # noqa: N802 - Django's name
        value = getattr(self, field.attname)
        try:
            label = _choice_labels(field).get(value, value)
        except TypeError:  # an unhashable value: Django's way, which makes it hashable first
            return super()._get_FIELD_display(field)  # type: ignore[misc]
        return force_str(label, strings_only=True)


class TimeStampedModel(ChoiceLabels):
    """Adds ``created_at`` and ``updated_at``, kept by the database layer on every save."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True

    @property
    def version(self) -> str:
        """Which saved state of the row this is; an edit based on an older one is refused (lost update)."""
        return version_of(self)
