"""Quotes factories (also registered for the cross-tenant and cross-user probes)."""

from __future__ import annotations

from decimal import Decimal

from projects.models import SigningPolicy
from quotes.models import CatalogueItem, Package, Quotation, QuotationLine, QuoteSettings
from tests.customers.factories import CustomerFactory
from tests.factories import probe_factory

_counter = {"n": 0}


def _next() -> int:
    _counter["n"] += 1
    return _counter["n"]


@probe_factory(CatalogueItem)
def make_item(tenant, **extra) -> CatalogueItem:
    fields = {
        "name": f"仿古砖{_next()}",
        "spec": "600×600",
        "unit": "㎡",
        "unit_price_fen": 12_835,
        "category": "main_material",
    }
    fields.update(extra)
    return CatalogueItem.objects.create(tenant=tenant, **fields)


@probe_factory(Package)
def make_package(tenant, **extra) -> Package:
    fields = {
        "name": f"整装套餐{_next()}",
        "price_per_sqm_fen": 128_800,
        "includes": "水电、泥瓦、木工、油漆",
    }
    fields.update(extra)
    return Package.objects.create(tenant=tenant, **fields)


@probe_factory(Quotation)
def make_quotation(tenant, **extra) -> Quotation:
    lines = extra.pop("lines", None)
    n = _next()
    fields = {
        "customer": extra.pop("customer", None) or CustomerFactory(tenant=tenant),
        "number": f"BJ20260101-{n:03d}",
        "title": "全屋装修报价",
        "subtotal_fen": 0,
        "total_fen": 0,
    }
    fields.update(extra)
    quotation = Quotation.objects.create(tenant=tenant, **fields)
    if lines is None:
        lines = [("人工费", 5_000, Decimal("2"))]
    total = 0
    for position, (name, unit_price_fen, quantity) in enumerate(lines, start=1):
        amount = int(unit_price_fen * quantity)
        QuotationLine.objects.create(
            tenant=tenant,
            quotation=quotation,
            position=position,
            kind="free",
            name=name,
            unit="项",
            unit_price_fen=unit_price_fen,
            quantity=quantity,
            amount_fen=amount,
        )
        total += amount
    Quotation.objects.filter(pk=quotation.pk).update(subtotal_fen=total, total_fen=total)
    quotation.refresh_from_db()
    return quotation


@probe_factory(QuoteSettings)
def make_quote_settings(tenant, **extra) -> QuoteSettings:
    settings, _ = QuoteSettings.objects.update_or_create(tenant=tenant, defaults=extra)
    return settings


@probe_factory(SigningPolicy)  # projects' model; the signing gate was built with the quotes work
def make_signing_policy(tenant, **extra) -> SigningPolicy:
    policy, _ = SigningPolicy.objects.update_or_create(tenant=tenant, defaults=extra)
    return policy
