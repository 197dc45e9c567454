"""The browser shell's (templates/base.html) repeated parts, written in Python from per-process copies.

The navigation (12 entries) and the language menu were ~60 template nodes on every page, a
tenth of the customer list's time. Their markup is the loops' byte for byte
(``tests/crm/test_shell_tags.py`` renders both).
"""

from __future__ import annotations

from html import escape

from django import template
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language_info, gettext

register = template.Library()

# (active language, LANGUAGES) -> the <option> elements of the language menu.
_language_options: dict[tuple, str] = {}


@register.simple_tag
def nav_menu(items: list[dict]) -> SafeString:
    """``{% for item in nav_items %}<li>…{% trans item.label %}…</li>{% endfor %}``."""
    html = []
    for item in items:
        current = ' aria-current="page"' if item["active"] else ""
        label = escape(gettext(str(item["label"]).replace("%", "%%")))  # what {% trans var %} does
        html.append(f'\n        <li><a href="{escape(str(item["url"]))}"{current}>{label}</a></li>\n      ')
    return mark_safe("".join(html))  # noqa: S308 - url and label are escaped


@register.simple_tag
def language_options(current: str) -> SafeString:
    """The options of ``settings.LANGUAGES`` (in their own names), ``current`` selected."""
    key = (current, tuple(settings.LANGUAGES))
    html = _language_options.get(key)
    if html is None:
        options = []
        for code, _name in settings.LANGUAGES:
            info = get_language_info(str(code))
            selected = " selected" if info["code"] == current else ""
            code_html = escape(str(info["code"]))
            options.append(
                f'\n              <option value="{code_html}" lang="{code_html}"{selected}>'
                f"{escape(str(info['name_local']))}</option>\n            "
            )
        html = _language_options[key] = "\n            " + "".join(options)
    return mark_safe(html)  # noqa: S308 - built from escaped values
