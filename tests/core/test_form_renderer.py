"""The form renderer's Python writers (forms, fields, labels, errors, inputs, text areas and select
boxes) write what Django's templates write, character for character."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django import forms
from django.forms.renderers import DjangoTemplates, get_default_renderer
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy

from cartera.core.form_renderer import FormRenderer, can_render_select
from tests.conftest import login, without_tokens


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


def both_ways(renderable, settings) -> tuple[str, str]:
    settings.CARTERA_BULK_PLAIN = False
    fast = str(renderable)
    settings.CARTERA_BULK_PLAIN = True
    plain = str(renderable)
    settings.CARTERA_BULK_PLAIN = False
    return fast, plain


class EveryField(forms.Form):
    """Every kind of field a form of the project can hold, with what its templates must handle:
    help text, escaping, values, required and error classes, hidden fields with errors, a fieldset,
    a field without a label, one that keeps its own id, and errors of the whole form."""

    required_css_class = "required"
    error_css_class = "has-error"

    name = forms.CharField(max_length=5, help_text="At most <b>5</b> letters & no more")
    email = forms.EmailField(required=False, label="E-mail?")
    age = forms.IntegerField(min_value=0, required=False, localize=True)
    amount = forms.DecimalField(required=False, initial=Decimal("1234.5"), localize=True)
    day = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    when = forms.DateTimeField(required=False)
    at = forms.TimeField(required=False)
    site = forms.URLField(required=False, assume_scheme="https")
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=True))
    phone = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "tel", "id": "own-id"}))
    find = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "search", "hidden": True}))
    colour = forms.CharField(required=False, widget=forms.TextInput(attrs={"type": "color"}))
    notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), initial='say "hi" <now>'
    )
    blank_notes = forms.CharField(required=False, widget=forms.Textarea)
    agree = forms.BooleanField(required=True)
    upload = forms.FileField(required=False)
    choice = forms.ChoiceField(choices=[("a", "A"), ("b", "B")], widget=forms.RadioSelect, required=False)
    unlabelled = forms.CharField(required=False, label="")
    lazy = forms.CharField(required=False, label=gettext_lazy("Name"), help_text=gettext_lazy("Notes"))
    token = forms.CharField(widget=forms.HiddenInput, required=True)
    page = forms.IntegerField(widget=forms.HiddenInput, required=False, initial=3)

    def clean(self):
        raise forms.ValidationError(["Something about the whole form & more", "A second one"])


class OnlyHidden(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)

    def clean(self):
        raise forms.ValidationError("Whole form")


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    ("form_class", "data", "options"),
    [
        (EveryField, None, {}),
        (EveryField, {"name": "far too long", "email": "x", "age": "-1", "when": "nope", "agree": ""}, {}),
        (EveryField, {"name": "ok", "agree": "on", "token": "t", "notes": "", "page": "x"}, {}),
        (EveryField, None, {"auto_id": False}),
        (EveryField, {"name": "ok"}, {"label_suffix": " →", "prefix": "p"}),
        (OnlyHidden, None, {}),
        (OnlyHidden, {"token": ""}, {}),
        (OnlyHidden, {"token": "x"}, {}),
    ],
)
def test_every_kind_of_form_and_field_matches_the_templates(settings, language, form_class, data, options):
    with translation.override(language):
        form = form_class(data, **options)
        fast, plain = both_ways(form, settings)
        assert fast == plain
        for bound_field in form:
            for part in (bound_field, bound_field.errors):
                fast, plain = both_ways(part, settings)
                assert fast == plain, bound_field.name
        fast, plain = both_ways(form.non_field_errors(), settings)
        assert fast == plain
        assert str(form).count("<input") >= 1


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


FORM_PAGES = [
    "/customers/",
    "/customers/?stage=customer&sort=name&lifecycle=active&q=ana",
    "customer page",
    "customer edit",
    "/customers/new/",
    "/customers/companies/new/",
    "/activity/tasks/",
    "/segments/new/",
    "/segments/personas/new/",
    "/pipeline/opportunities/new/",
    "/pipeline/forms/new/",
    "/data/",
    "/campaigns/new/",
    "/surveys/new/",
    "/surveys/audits/new/",
]


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("url", FORM_PAGES)
def test_the_pages_with_most_selects_are_the_same_either_way(
    client, settings, custom_people, manager, language, url
):
    login(client, manager)
    if url == "customer page":
        url = f"/customers/{custom_people['ana'].pk}/"
    elif url == "customer edit":
        url = f"/customers/{custom_people['ana'].pk}/edit/"
    pages = []
    for plain in (False, True):
        settings.CARTERA_BULK_PLAIN = plain
        response = client.get(url, headers={"accept-language": language})
        assert response.status_code == 200
        pages.append(without_tokens(response.content.decode()))
    assert pages[0] == pages[1]
    assert pages[0].count("<input") + pages[0].count("<select") > 3


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize(
    "url",
    ["/customers/new/", "/customers/companies/new/", "/activity/tasks/", "/pipeline/opportunities/new/"],
)
def test_forms_sent_back_with_errors_are_the_same_either_way(client, settings, manager, language, url):
    """A form refused with errors (the error lists, the error classes, the values typed kept)."""
    login(client, manager)
    typed = {"email": "not an e-mail <b>", "first_name": "", "name": "", "title": "", "due_at": "nope"}
    pages = []
    for plain in (False, True):
        settings.CARTERA_BULK_PLAIN = plain
        response = client.post(url, typed, headers={"accept-language": language})
        assert response.status_code in (200, 422), response.status_code
        pages.append(without_tokens(response.content.decode()))
    assert pages[0] == pages[1]
    assert "errorlist" in pages[0]
