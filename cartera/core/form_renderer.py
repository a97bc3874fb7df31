"""The project's form renderer (``FORM_RENDERER``): Django's, with select boxes written in Python.

Django renders a ``<select>`` through one template, and each of its ``<option>`` elements through an
``{% include %}`` of another template that includes a third for the attributes: a filter form with a
dozen selects costs several hundred template renders, which was most of the customer list's and the
customer page's rendering time (docs/benchmarks.md, the load benchmark). :func:`render_select`
writes the same markup, character for character, straight from the widget's context.

It is a fast path with a plain twin: any select whose widget or option templates are not Django's
own (a widget that sets its own ``template_name`` or ``option_template_name``) goes through the
templates as before, and so does every select when ``CARTERA_BULK_PLAIN=1`` forces the project's
plain twins (:func:`cartera.core.bulk.fast_paths`).
``tests/core/test_form_renderer.py`` renders every select of the project's forms both ways and
compares them.
"""

from __future__ import annotations

from typing import Any

from django.forms.renderers import DjangoTemplates
from django.utils.formats import localize
from django.utils.html import conditional_escape
from django.utils.safestring import SafeData
from django.utils.timezone import template_localtime  # type: ignore[attr-defined]

from cartera.core.bulk import fast_paths

SELECT_TEMPLATE = "django/forms/widgets/select.html"
OPTION_TEMPLATE = "django/forms/widgets/select_option.html"


def _text(value: Any) -> str:
    """``{{ value }}`` in a template: localised, as text, escaped unless already safe."""
    value = localize(template_localtime(value))
    if not issubclass(type(value), str):
        value = str(value)
    return str(conditional_escape(value))


def _formatted(value: Any) -> str:
    """``{{ value|stringformat:'s' }}``: ``"%s" % value``, escaped unless ``value`` was safe."""
    text = "%s" % (value,)  # noqa: UP031 - exactly what the stringformat filter does
    return text if isinstance(value, SafeData) else str(conditional_escape(text))


def _attrs(attrs: dict[str, Any]) -> str:
    """``django/forms/widgets/attrs.html``."""
    out = []
    for name, value in attrs.items():
        if value is not False:
            out.append(f" {_text(name)}" if value is True else f' {_text(name)}="{_formatted(value)}"')
    return "".join(out)


def can_render_select(widget: dict[str, Any]) -> bool:
    """Whether :func:`render_select` writes this select (Django's own templates, no custom ones)."""
    return widget.get("template_name") == SELECT_TEMPLATE and all(
        option.get("template_name") == OPTION_TEMPLATE
        for _name, options, _index in widget["optgroups"]
        for option in options
    )


def render_select(widget: dict[str, Any]) -> str:
    """What ``select.html`` (with ``select_option.html`` for each option) renders, stripped."""
    out = [f'<select name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, options, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{_text(group_name)}">')
        for option in options:
            out.append(
                f'\n  <option value="{_formatted(option["value"])}"{_attrs(option["attrs"])}>'
                f"{_text(option['label'])}</option>\n"
            )
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out).strip()


class FormRenderer(DjangoTemplates):
    """Django's default renderer, except that select boxes are written by :func:`render_select`."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        widget = context.get("widget") if template_name == SELECT_TEMPLATE else None
        if widget is not None and can_render_select(widget) and fast_paths():
            return render_select(widget)
        return str(super().render(template_name, context, request=request))
