"""Small pieces of the staff shell: tap-to-call links and the call / WeChat buttons on phone cards.

Masking is respected by construction: a number that is not all digits (``138****5678``, ``—``) is
shown as text, never as a ``tel:`` link, so only staff who may see the full number can tap it.
"""

from __future__ import annotations

import html
import re

from django import template
from django.utils.functional import Promise
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

register = template.Library()

DIALLABLE = re.compile(r"^\+?\d{5,20}$")


def tel_href(phone: str) -> str:
    """``tel:`` target for a full number (Chinese mobiles are dialled with +86), or ``""``."""
    number = re.sub(r"[\s-]", "", str(phone or ""))
    if not DIALLABLE.match(number):
        return ""
    if not number.startswith("+") and len(number) == 11 and number.startswith("1"):
        number = f"+86{number}"
    return f"tel:{number}"


@register.filter
def tel_link(phone) -> SafeString:
    """``{{ phone|tel_link }}``: the number as a tap-to-call link when it is a full number."""
    href = tel_href(phone)
    if not href:
        return SafeString(_escape(phone if phone not in (None, "") else "—"))
    return SafeString(f'<a class="crm-tel" href="{_escape(href)}">{_escape(phone)}</a>')


def _escape(value) -> str:
    """``conditional_escape`` without ``keep_lazy``'s wrapper: these run per row of long lists."""
    if isinstance(value, Promise):
        value = str(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


@register.simple_tag
def contact_buttons(phone="", wechat_id="") -> SafeString:
    """A 拨打 button for a full number and a 复制微信号 button (the WeChat ID, else the full number)."""
    return contact_buttons_html(phone, wechat_id, contact_button_labels())


def contact_button_labels() -> tuple[str, str, str]:
    """The buttons' words in the active language (a list translates them once, not per row)."""
    return _("拨打"), _("已复制"), _("复制微信号")


def contact_buttons_html(phone, wechat_id, labels: tuple[str, str, str]) -> SafeString:
    call, copied, copy_wechat = labels
    href = tel_href(phone)
    parts = []
    if href:
        parts.append(f'<a class="crm-call" href="{_escape(href)}" role="button">📞 {_escape(call)}</a>')
    copy = (wechat_id or str(phone)) if href else ""  # a viewer who sees a masked number copies nothing
    if copy:
        copy, copied = _escape(copy), _escape(copied)
        parts.append(
            f'<button type="button" class="crm-copy" data-copy="{copy}" data-copied-label="{copied}" '
            f'title="{copy}">{_escape(copy_wechat)}</button>'
        )
    return SafeString("".join(parts))


@register.filter
def fen(value) -> str:
    """Integer fen → ``¥1,234.50`` (``crm.money.format_fen``); anything else → ``—``."""
    from crm.money import format_fen

    try:
        return format_fen(int(value))
    except (TypeError, ValueError):
        return "—"


@register.filter
def fen_input(value) -> str:
    """Integer fen → plain yuan for an input's value (``12345`` → ``"123.45"``); ``None`` → ``""``.

    Anything that is not a whole number (e.g. text a person typed that failed validation) is shown
    as it was typed."""
    from crm.money import fen_to_yuan

    if value is None or value == "":
        return ""
    try:
        return str(fen_to_yuan(int(value)))
    except (TypeError, ValueError):
        return str(value)


@register.filter
def bp_percent(value) -> str:
    """Basis points as a percentage: ``150`` → ``"1.5%"`` (``crm.money.format_basis_points``)."""
    from crm.money import format_basis_points

    try:
        return format_basis_points(int(value))
    except (TypeError, ValueError):
        return "—"


@register.filter
def signed_fen(value) -> str:
    """Integer fen → ``+¥1,234.50`` / ``-¥12.00``, for deltas (change orders, ledger entries)."""
    from crm.money import format_fen

    try:
        return format_fen(int(value), sign=True)
    except (TypeError, ValueError):
        return "—"
