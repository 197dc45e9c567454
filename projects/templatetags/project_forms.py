"""``{% form_fields form %}``: a form's non-field errors, then ``<label>`` + errors + widget per field.

The project page shows up to four small forms; Django renders every widget, error list and option
through its form templates (about a fifth of the page's time). An unbound form's markup depends
only on what is in the key below (its class, the language, each field's label, initial value,
choices and widget attributes), so it is rendered once per process and reused; a bound form (shown
again with its errors) is rendered as usual.
"""

from __future__ import annotations

from typing import Any

from django import forms, template
from django.utils.functional import Promise
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

_UNBOUND_HTML: dict[tuple, SafeString] = {}
_MAX_ENTRIES = 512


def _freeze(value: Any) -> Any:
    if isinstance(value, Promise):
        return str(value)
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _freeze(item)) for key, item in value.items()))
    return repr(value)


def _unbound_key(form: forms.BaseForm) -> tuple:
    fields = tuple(
        (
            name,
            type(field),
            type(field.widget),
            field.widget.template_name,
            str(field.label),
            field.required,
            field.disabled,
            _freeze(form.get_initial_for_field(field, name)),
            _freeze(list(getattr(field, "choices", ()))),
            _freeze(field.widget.attrs),
            _freeze(getattr(field.widget, "format", None)),
        )
        for name, field in form.fields.items()
    )
    return (type(form), get_language(), form.prefix, form.auto_id, form.use_required_attribute, fields)


def _fields_html(form: forms.BaseForm) -> SafeString:
    parts = [format_html("{}", form.non_field_errors())]
    parts.extend(format_html("<label>{}{}{}</label>", field.label, field.errors, field) for field in form)
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped above


@register.simple_tag
def form_fields(form: forms.BaseForm) -> SafeString:
    if form.is_bound:
        return _fields_html(form)
    key = _unbound_key(form)
    html = _UNBOUND_HTML.get(key)
    if html is None:
        if len(_UNBOUND_HTML) >= _MAX_ENTRIES:
            _UNBOUND_HTML.clear()
        html = _UNBOUND_HTML[key] = _fields_html(form)
    return html
