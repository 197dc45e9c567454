"""Money is an ``int`` of fen (分) everywhere: models, services, API, exports. Yuan exist only at the edges.

Why integer fen and not ``Decimal`` yuan: sums, comparisons and database aggregates are exact and
cheap, a fen can never be half-rounded twice, and the referral ledger already works this way. These
helpers are the only place that converts; nothing else multiplies or divides by 100.

- ``parse_yuan("12.35")`` → ``1235`` (what a person types; more than two decimals is an error, never
  silently rounded);
- ``format_fen(1235)`` → ``"¥12.35"`` (what a person reads), ``fen_to_yuan`` → ``Decimal("12.35")``;
- ``fen_times(unit_fen, quantity)`` → a line total rounded once, half-up, to the fen;
- ``fen_share(total_fen, basis_points)`` → a percentage share (e.g. a 30% first payment).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django import forms
from django.utils.translation import gettext_lazy as _

from crm.validators import MONEY_MAX

FEN_PER_YUAN = 100
_CENT = Decimal("0.01")


class MoneyError(ValueError):
    """A yuan amount that cannot be represented exactly in fen (or is not a number)."""


def parse_yuan(value: str | int | Decimal, *, allow_negative: bool = False) -> int:
    """Yuan as typed or sent (``"1,234.5"``, ``12``, ``Decimal``) → exact fen; refuses >2 decimals."""
    if isinstance(value, float):  # floats are never exact money
        raise MoneyError(_("金额须为数字，最多两位小数"))
    text = str(value).strip().replace(",", "").replace("¥", "").replace("￥", "")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise MoneyError(_("金额须为数字，最多两位小数")) from exc
    if not amount.is_finite() or amount != amount.quantize(_CENT, rounding=ROUND_HALF_UP):
        raise MoneyError(_("金额最多两位小数（精确到分）"))
    if amount < 0 and not allow_negative:
        raise MoneyError(_("金额不能为负数"))
    fen = int(amount * FEN_PER_YUAN)
    if abs(fen) > MONEY_MAX:
        raise MoneyError(_("金额过大"))
    return fen


def fen_to_yuan(fen: int) -> Decimal:
    """Exact yuan for display or an input's initial value: ``1235`` → ``Decimal("12.35")``."""
    return (Decimal(int(fen)) / FEN_PER_YUAN).quantize(_CENT)


def format_fen(fen: int | None, *, sign: bool = False) -> str:
    """``1234567`` → ``"¥12,345.67"``; ``sign=True`` adds ``+`` to positive amounts; ``None`` → ``"—"``."""
    if fen is None:
        return "—"
    fen = int(fen)
    prefix = "-" if fen < 0 else ("+" if sign and fen > 0 else "")
    return f"{prefix}¥{fen_to_yuan(abs(fen)):,.2f}"


def format_fen_number(fen: int, *, sign: bool = False) -> str:
    """``-1234567`` → ``"-12,345.67"``: yuan without ``¥`` (``sign=True``: ``+`` on positives)."""
    fen = int(fen)
    prefix = "-" if fen < 0 else ("+" if sign and fen > 0 else "")
    return f"{prefix}{fen_to_yuan(abs(fen)):,.2f}"


def fen_times(unit_fen: int, quantity: Decimal | int | str) -> int:
    """A line total: unit price × quantity (e.g. 12.35 m² of tiles), rounded once, half-up, to the fen."""
    total = Decimal(int(unit_fen)) * Decimal(str(quantity))
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fen_share(total_fen: int, basis_points: int) -> int:
    """``basis_points``/10000 of an amount, half-up to the fen (30% = 3000 bp)."""
    share = Decimal(int(total_fen)) * Decimal(int(basis_points)) / Decimal(10_000)
    return int(share.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def format_basis_points(basis_points: int) -> str:
    """``150`` → ``"1.5%"``, ``3000`` → ``"30%"`` (shares are integer basis points, 1% = 100 bp)."""
    percent = (Decimal(int(basis_points)) / 100).quantize(_CENT)
    text = f"{percent:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def split_fen(total_fen: int, basis_points: list[int]) -> list[int]:
    """Split an amount by shares that sum to 100%, so the parts add up to the total to the fen.

    Every part but the last is ``fen_share``; the last takes the remainder (a 30/40/30 split of
    ¥100.01 is 30.00 + 40.00 + 30.01, never 100.00 or 100.02).
    """
    if sum(basis_points) != 10_000:
        raise MoneyError(_("各期比例之和须为 100%"))
    parts = [fen_share(total_fen, bp) for bp in basis_points[:-1]]
    return [*parts, int(total_fen) - sum(parts)]


class YuanFormField(forms.CharField):
    """A form input in yuan (two decimals at most) whose cleaned value is integer fen."""

    def __init__(self, *, allow_negative: bool = False, **kwargs):
        self.allow_negative = allow_negative
        attrs = {"inputmode": "decimal", "autocomplete": "off", "maxlength": "20"}
        kwargs.setdefault("widget", forms.TextInput(attrs=attrs))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        if isinstance(value, int) and not isinstance(value, bool):
            return str(fen_to_yuan(value))
        return value

    def to_python(self, value):
        text = super().to_python(value)
        if text is None or text in self.empty_values:
            return None
        if len(text) > 20:
            raise forms.ValidationError(_("金额过大"), code="invalid_money")
        try:
            return parse_yuan(text, allow_negative=self.allow_negative)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc), code="invalid_money") from exc
