"""The project's form renderer (``FORM_RENDERER``): Django's, with its small templates written in Python.

Django renders a form through a template per form (``div.html``), per field (``field.html``), per
label, per error list and per widget, each ``{% include %}``-ing another for the attributes; a
``<select>`` renders each ``<option>`` through a template of its own. The customer page's five quick
forms and the customer list's filter form cost hundreds of template renders: most of their
rendering time (docs/benchmarks.md, the load benchmark). The functions below write the same
markup, character for character, straight from the context Django gives those templates:
:func:`render_select`, :func:`render_input` (every widget whose template is only ``input.html``),
:func:`render_textarea`, :func:`render_label`, :func:`render_error_list`, :func:`render_field` and
:func:`render_div` (the form).

It is a fast path with a plain twin: a template not listed in :data:`WRITERS` (a widget or field
with a template of its own, radio buttons, multi-widgets...) goes through the templates as before,
and so does everything when ``CARTERA_BULK_PLAIN=1`` forces the project's plain twins
(:func:`cartera.core.bulk.fast_paths`). ``tests/core/test_form_renderer.py`` renders every kind of
field and the project's pages with most forms both ways and compares them.
"""

from __future__ import annotations

from collections.abc import Callable
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


def _select(context: dict[str, Any]) -> str | None:
    widget = context.get("widget")
    return render_select(widget) if widget is not None and can_render_select(widget) else None


def render_input(context: dict[str, Any]) -> str:
    """``input.html``, which ``text.html``, ``hidden.html``, ``date.html``... only include."""
    widget = context["widget"]
    value = "" if widget["value"] is None else f' value="{_formatted(widget["value"])}"'
    return f'<input type="{_text(widget["type"])}" name="{_text(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def render_textarea(context: dict[str, Any]) -> str:
    widget = context["widget"]
    value = _text(widget["value"]) if widget["value"] else ""
    return f'<textarea name="{_text(widget["name"])}"{_attrs(widget["attrs"])}>\n{value}</textarea>'


def render_label(context: dict[str, Any]) -> str:
    """``label.html``: the field's ``<label>`` (or ``<legend>``), or the bare text without an id."""
    label = _text(context["label"])
    if not context["use_tag"]:
        return label.strip()
    tag = _text(context["tag"])
    return f"<{tag}{_attrs(context['attrs'])}>{label}</{tag}>"


def render_error_list(context: dict[str, Any]) -> str | None:
    """``errors/list/ul.html`` (which ``errors/list/default.html`` includes)."""
    errors = context["errors"]
    if not isinstance(errors, list):
        return None
    if not errors:
        return ""
    field_id = getattr(errors, "field_id", None)
    ident = f' id="{_text(field_id)}_error"' if field_id else ""
    items = "".join(f"<li>{_text(error)}</li>" for error in errors)
    return f'<ul class="{_text(context["error_class"])}"{ident}>{items}</ul>'


def render_field(context: dict[str, Any]) -> str:
    """``field.html``: label (or fieldset and legend), help text, errors and the widget."""
    field = context["field"]
    fieldset = field.use_fieldset
    if fieldset:
        described = field.aria_describedby
        described_by = f' aria-describedby="{_text(described)}"' if described else ""
        legend = _text(field.legend_tag()) if field.label else ""
        out = [f"\n  <fieldset{described_by}>\n  {legend}\n"]
    else:
        out = [f"\n  {_text(field.label_tag()) if field.label else ''}\n"]
    out.append("\n")
    if field.help_text:
        ident = f' id="{_text(field.auto_id)}_helptext"' if field.auto_id else ""
        out.append(f'<div class="helptext"{ident}>{field.help_text}</div>')
    out.append(f"\n{_text(field.errors)}\n{_text(field)}")
    if fieldset:
        out.append("</fieldset>")
    return "".join(out).strip()


def render_div(context: dict[str, Any]) -> str:
    """``div.html``: the form, each visible field in a ``<div>``, the hidden ones after the last."""
    errors, fields, hidden = context["errors"], context["fields"], context["hidden_fields"]
    hidden_html = "".join(_text(field) for field in hidden)
    out = [_text(errors), "\n"]
    if errors and not fields:
        out.append(f"\n  <div>{hidden_html}</div>\n")
    out.append("\n")
    for position, (field, _errors) in enumerate(fields, start=1):
        classes = field.css_classes()
        out.append(
            f"\n  <div{f' class="{_text(classes)}"' if classes else ''}>\n    {_text(field.as_field_group())}\n    "
        )
        if position == len(fields):
            out.append(f"\n      {hidden_html}\n    ")
        out.append("\n</div>\n")
    out.append("\n")
    if not fields and not errors:
        out.append(f"\n  {hidden_html}\n")
    return "".join(out).strip()


_INPUT_WIDGETS = [
    "checkbox",
    "color",
    "date",
    "datetime",
    "email",
    "file",
    "hidden",
    "number",
    "password",
    "search",
    "tel",
    "text",
    "time",
    "url",
]
# Django's own form templates written in Python: a writer returns None to leave one to the template.
WRITERS: dict[str, Callable[[dict[str, Any]], str | None]] = {
    SELECT_TEMPLATE: _select,
    **{f"django/forms/widgets/{name}.html": render_input for name in _INPUT_WIDGETS},
    "django/forms/widgets/input.html": render_input,
    "django/forms/widgets/textarea.html": render_textarea,
    "django/forms/label.html": render_label,
    "django/forms/errors/list/default.html": render_error_list,
    "django/forms/errors/list/ul.html": render_error_list,
    "django/forms/field.html": render_field,
    "django/forms/div.html": render_div,
}


class FormRenderer(DjangoTemplates):
    """Django's default renderer, except that Django's own small templates are written in Python."""

    def render(self, template_name: str, context: dict[str, Any], request: Any = None) -> str:
        writer = WRITERS.get(template_name)
        if writer is not None and fast_paths():
            html = writer(context)
            if html is not None:
                return html
        return str(super().render(template_name, context, request=request))
