"""Money display: integer fen -> "¥1,234.50"."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def fen(value) -> str:
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return "—"
    sign = "-" if amount < 0 else ""
    return f"{sign}¥{abs(amount) / 100:,.2f}"


@register.filter
def signed_fen(value) -> str:
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return "—"
    return f"+{fen(amount)}" if amount > 0 else fen(amount)


@register.filter
def yuan(value) -> str:
    """Plain yuan amount for input attributes: 12345 -> "123.45"."""
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return ""
    return f"{amount / 100:.2f}"


@register.filter
def bp_percent(value) -> str:
    """Basis points as a percentage: 150 -> "1.5%"."""
    try:
        return f"{int(value) / 100:g}%"
    except (TypeError, ValueError):
        return "—"
