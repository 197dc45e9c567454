"""Demo rows for quotes: a price catalogue, a 整装 package and a quotation in two versions (idempotent)."""

from __future__ import annotations

from crm.models import Tenant, User
from customers.models import Customer
from projects.models import Project
from quotes.models import CatalogueItem
from quotes.services import catalogue, quotations

ITEMS = [
    ("仿古砖", "600×600", "㎡", 12_800, "main_material"),
    ("强化木地板", "12mm", "㎡", 15_900, "main_material"),
    ("防水涂料", "K11 柔韧型", "㎡", 4_500, "aux_material"),
    ("水电改造", "", "㎡", 8_550, "labour"),
    ("泥瓦铺贴", "", "㎡", 6_500, "labour"),
    ("管理费", "", "项", 300_000, "management"),
    ("设计费", "", "㎡", 5_000, "design"),
]


def seed_demo(*, tenant: Tenant, staff: dict[str, User]) -> None:
    if CatalogueItem.objects.exists():
        return
    manager, rep = staff["manager"], staff["sales"]
    items = {
        name: catalogue.item_create(
            tenant=tenant,
            actor=manager,
            name=name,
            spec=spec,
            unit=unit,
            unit_price_fen=price,
            category=category,
        )
        for name, spec, unit, price, category in ITEMS
    }
    package = catalogue.package_create(
        tenant=tenant,
        actor=manager,
        name="整装舒适套餐",
        price_per_sqm_fen=128_800,
        includes="水电、泥瓦、木工、油漆、主材（瓷砖、地板、洁具）",
        items=[items["仿古砖"], items["强化木地板"], items["水电改造"], items["泥瓦铺贴"]],
    )
    project = Project.objects.filter(signed_on__isnull=True).select_related("customer").order_by("pk").first()
    customer = project.customer if project else Customer.objects.order_by("pk").first()
    if customer is None:
        return
    draft = quotations.quotation_create(
        tenant=tenant, actor=rep, customer=customer, project=project, title="全屋整装报价", area_sqm="89.50"
    )
    draft = quotations.quotation_set_lines(
        tenant=tenant,
        actor=rep,
        quotation=draft,
        lines=[
            {"kind": "package", "package": package},
            {"kind": "item", "catalogue_item": items["防水涂料"], "quantity": "32.5"},
            {"kind": "item", "catalogue_item": items["设计费"], "quantity": "89.5"},
            {"kind": "free", "name": "旧房拆除", "unit": "项", "unit_price_fen": 350_000, "quantity": "1"},
        ],
    )
    sent = quotations.quotation_send(tenant=tenant, actor=rep, quotation=draft)
    revision = quotations.quotation_revise(tenant=tenant, actor=rep, quotation=sent)
    revision = quotations.quotation_set_discount(
        tenant=tenant, actor=rep, quotation=revision, kind="amount", amount_fen=300_000
    )
    quotations.quotation_send(tenant=tenant, actor=rep, quotation=revision)
