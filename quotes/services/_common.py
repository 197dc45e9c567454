"""Helpers shared by the quotes services: errors with stable codes, quantities, settings."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from crm.models import Tenant
from quotes.models import QuoteSettings

QUANTITY_MAX = Decimal("999999999.999")
QUANTITY_PLACES = 3


def error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def parse_quantity(value: object, *, field: str = "quantity") -> Decimal:
    """A positive quantity with at most three decimals (12.35 m², 3 套); never a float, never rounded."""
    if isinstance(value, float | bool):
        raise error(field, _("数量须为数字，最多三位小数。"), "invalid_quantity")
    try:
        quantity = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise error(field, _("数量须为数字，最多三位小数。"), "invalid_quantity") from None
    if not quantity.is_finite():
        raise error(field, _("数量须为数字，最多三位小数。"), "invalid_quantity")
    if quantity <= 0:
        raise error(field, _("数量必须大于 0。"), "quantity_not_positive")
    if quantity > QUANTITY_MAX:  # before quantize: 1e999999 would overflow it
        raise error(field, _("数量过大。"), "quantity_too_large")
    if quantity != quantity.quantize(Decimal(1).scaleb(-QUANTITY_PLACES)):
        raise error(field, _("数量最多三位小数。"), "quantity_too_precise")
    return quantity


def quote_settings(*, tenant: Tenant, lock: bool = False) -> QuoteSettings:
    """The tenant's settings row (created with the defaults on first use)."""
    settings, _created = QuoteSettings.objects.get_or_create(tenant=tenant)
    if lock:
        settings = QuoteSettings.objects.select_for_update().get(pk=settings.pk)
    return settings
