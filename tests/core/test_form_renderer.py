"""The form renderer's Python select boxes write what Django's templates write, character for character."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from cartera.core.form_renderer import FormRenderer, can_render_select
from tests.conftest import login


class EverySelect(forms.Form):
    """Selects with what their templates must handle: groups, escaping, numbers, safe strings..."""

    plain = forms.ChoiceField(choices=[("", "—"), ("a", "A & B"), ("b", '"quoted" <b>')])
    grouped = forms.ChoiceField(
        choices=[
            ("", "none"),
            ("Fruit", [("apple", "Apple"), ("pear", "Pear")]),
            ("Veg <&>", [("kale", "Kale")]),
            ("loose", "Loose one"),
        ]
    )
    numbers = forms.TypedChoiceField(coerce=int, choices=[(1, 1), (2, Decimal("2.5")), (3, 1234.5)])
    lazy = forms.ChoiceField(choices=[("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))])
    safe = forms.ChoiceField(choices=[(mark_safe("<i>"), mark_safe("<b>bold</b>")), ("x&y", "x&y")])
    many = forms.MultipleChoiceField(choices=[("1", "one"), ("2", "two"), ("3", "three")], required=False)
    attrs = forms.ChoiceField(
        choices=[("a", "a"), ("b", "b")],
        widget=forms.Select(attrs={"class": 'c "1"', "disabled": False, "autofocus": True, "data-n": 0}),
    )
    maybe = forms.NullBooleanField()
    empty = forms.ChoiceField(choices=[], required=False)


def both_ways(bound_field: forms.BoundField, settings) -> tuple[str, str]:
    settings.CARTERA_BULK_PLAIN = False
    fast = str(bound_field)
    settings.CARTERA_BULK_PLAIN = True
    plain = str(bound_field)
    settings.CARTERA_BULK_PLAIN = False
    return fast, plain


def test_the_project_renders_forms_with_it():
    assert isinstance(get_default_renderer(), FormRenderer)


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    "data",
    [
        None,
        {"plain": "a", "grouped": "pear", "numbers": "2", "safe": "<i>", "many": ["1", "3"], "maybe": "true"},
        {"plain": "zz", "grouped": "Fruit", "numbers": "x", "many": ["9"], "maybe": "false", "attrs": "b"},
    ],
)
def test_every_kind_of_select_matches_the_templates(settings, language, data):
    form = EverySelect(data, auto_id="id_%s")
    with translation.override(language):
        for bound_field in form:
            context = bound_field.field.widget.get_context(bound_field.html_name, bound_field.value(), {})
            assert can_render_select(context["widget"]), bound_field.name  # the fast path is taken
            fast, plain = both_ways(bound_field, settings)
            assert fast == plain, bound_field.name


def test_a_widget_with_its_own_option_template_keeps_its_templates(settings):
    class Custom(forms.Select):
        option_template_name = "django/forms/widgets/radio_option.html"

    field = forms.ChoiceField(choices=[("a", "A")], widget=Custom)
    context = field.widget.get_context("x", "a", {})
    assert not can_render_select(context["widget"])
    expected = DjangoTemplates().render(Custom.template_name, context)
    assert FormRenderer().render(Custom.template_name, context) == expected
    assert '<label><input type="select"' in expected  # the radio option template, not an <option>


def _without_tokens(html: str) -> str:
    """A page minus what is new on every render: CSRF tokens, CSP nonces, the time to the second."""
    html = re.sub(r"[A-Za-z0-9]{64}", "TOKEN", html)
    return re.sub(r"\d\d:\d\d:\d\d", "TIME", re.sub(r'nonce="[^"]*"', "NONCE", html))


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    "url",
    ["/customers/", "/customers/?stage=customer&sort=name&lifecycle=active&q=ana", "customer page"],
)
def test_the_pages_with_most_selects_are_the_same_either_way(
    client, settings, custom_people, manager, language, url
):
    login(client, manager)
    if url == "customer page":
        url = f"/customers/{custom_people['ana'].pk}/"
    pages = []
    for plain in (False, True):
        settings.CARTERA_BULK_PLAIN = plain
        response = client.get(url, headers={"accept-language": language})
        assert response.status_code == 200
        pages.append(_without_tokens(response.content.decode()))
    assert pages[0] == pages[1]
    assert pages[0].count("<option") > 30
