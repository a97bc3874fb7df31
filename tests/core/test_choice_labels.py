"""``get_FOO_display()`` of the project's models (``ChoiceLabels``) says what Django's own says: for
every choice of every field with choices, for a value that is not a choice, in both languages."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.utils import translation

from cartera.core.models import ChoiceLabels

FIELDS = [
    (model, field)
    for model in apps.get_models()
    if issubclass(model, ChoiceLabels)
    for field in model._meta.concrete_fields
    if field.choices
]


def test_the_models_on_the_busiest_pages_use_it():
    names = {model.__name__ for model, _field in FIELDS}
    assert {"Customer", "CustomerMetrics", "Interaction", "Order", "StageChange"} <= names


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(("model", "field"), FIELDS, ids=[f"{m.__name__}.{f.name}" for m, f in FIELDS])
def test_every_label_is_djangos(model, field, language):
    values = [value for value, _label in field.flatchoices] + ["not-a-choice", None, 12345]
    with translation.override(language):
        for value in values:
            instance = model()
            setattr(instance, field.attname, value)
            ours = getattr(instance, f"get_{field.name}_display")()
            djangos = models.Model._get_FIELD_display(instance, field)
            assert ours == djangos and type(ours) is type(djangos), (value, ours, djangos)
