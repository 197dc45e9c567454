"""Panel 8: customer value — who the customers are and what they are worth.

Definitions (see docs/metrics.md); a snapshot of today's customer base (the period only picks
the *new customers* figure); filters: channel, sales (owner) and designer apply to the customer,
project manager is ignored.
- **Customers by** budget tier, type, style preference (a customer with several styles counts in
  each), lifecycle, activity, region (city + district) and channel.
- **Lifetime value** (元) = signed contracts not cancelled (the customer's ``contract_total_fen``) +
  approved change orders of the customer's projects. Paid aftercare has no recorded amount yet and
  adds nothing. **Paying customers**: lifetime value > 0; **average** = value ÷ paying customers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils.translation import gettext_lazy as _

from analytics.scope import Scope
from analytics.selectors.common import chart, column, customers_url, kpi, panel, ratio, row, table
from customers.models import Activity, BudgetTier, Customer, CustomerType, Lifecycle, SourceChannel, Style
from projects.models import ChangeOrder, ChangeOrderStatus

if TYPE_CHECKING:
    from django.db.models import QuerySet

DIMENSIONS = [
    # (table key, title, customer field, list filter parameter, choices)
    ("budget_tier", _("按预算档"), "budget_tier", "budget_tier", BudgetTier.choices),
    ("customer_type", _("按客户类型"), "customer_type", "customer_type", CustomerType.choices),
    ("lifecycle", _("按生命周期"), "lifecycle", "lifecycle", Lifecycle.choices),
    ("activity", _("按活跃度"), "activity", "activity", Activity.choices),
    ("channel", _("按来源渠道"), "source_channel", "source_channel", SourceChannel.choices),
]
REGION_LIMIT = 15

COLUMNS = [
    column("customers", _("客户")),
    column("paying", _("成交客户")),
    column("value", _("生命周期价值（元）"), "money"),
    column("average", _("成交客户平均价值（元）"), "money"),
]


def _customers(scope: Scope) -> QuerySet[Customer]:
    customers = Customer.objects.all()
    if scope.channel:
        customers = customers.filter(source_channel=scope.channel)
    if scope.sales_id:
        customers = customers.filter(owner_id=scope.sales_id)
    if scope.designer_id:
        customers = customers.filter(designer_id=scope.designer_id)
    return customers


def _change_orders(scope: Scope) -> QuerySet[ChangeOrder]:
    conditions: dict[str, object] = {}
    if scope.channel:
        conditions["project__customer__source_channel"] = scope.channel
    if scope.sales_id:
        conditions["project__customer__owner_id"] = scope.sales_id
    if scope.designer_id:
        conditions["project__customer__designer_id"] = scope.designer_id
    return ChangeOrder.objects.filter(status=ChangeOrderStatus.APPROVED, **conditions)


def _style_q(prefix: str, style: str) -> Q:
    field = f"{prefix}style_preferences"
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__contains": [style]})
    return Q(**{f"{field}__icontains": f'"{style}"'})


def _values(customers: int, contracts: int, changes: int, paying: int) -> dict:
    value = contracts + changes
    return {
        "customers": customers,
        "paying": paying,
        "value": value,
        "average": round(value / paying) if paying else None,
    }


def _grouped(scope: Scope, field: str) -> dict:
    customers = {
        item[field]: item
        for item in _customers(scope)
        .values(field)
        .annotate(
            n=Count("id"),
            contracts=Sum("contract_total_fen"),
            paying=Count("id", filter=Q(contract_total_fen__gt=0)),
        )
    }
    changes = dict(
        _change_orders(scope)
        .values_list(f"project__customer__{field}")
        .annotate(total=Sum("amount_delta_fen"))
        .values_list(f"project__customer__{field}", "total")
    )
    return {key: (item, changes.get(key) or 0) for key, item in customers.items()}


def customer_value_panel(scope: Scope) -> dict:
    period = scope.period
    base = {"source_channel": scope.channel, "owner": scope.sales_id, "designer": scope.designer_id}
    totals = _customers(scope).aggregate(
        customers=Count("id"),
        new=Count("id", filter=Q(created_at__gte=period.start_at, created_at__lt=period.end_at)),
        contracts=Sum("contract_total_fen"),
        paying=Count("id", filter=Q(contract_total_fen__gt=0)),
    )
    change_total = _change_orders(scope).aggregate(total=Sum("amount_delta_fen"))["total"] or 0
    overall = _values(totals["customers"], totals["contracts"] or 0, change_total, totals["paying"])
    tables = []
    for key, title, field, parameter, choices in DIMENSIONS:
        grouped = _grouped(scope, field)
        rows = []
        for value, label in choices:
            if value not in grouped:
                continue
            item, changes = grouped[value]
            rows.append(
                row(
                    value,
                    label,
                    _values(item["n"], item["contracts"] or 0, changes, item["paying"]),
                    {"customers": customers_url(**{**base, parameter: value})},
                )
            )
        if key == "channel":
            rows.sort(key=lambda item: -item["values"]["value"])
        tables.append(table(key, title, COLUMNS, rows))
    tables.insert(2, _by_style(scope, base))
    tables.append(_by_region(scope, base))
    return panel(
        "customer_value",
        _("客户价值"),
        scope,
        kpis=[
            kpi("customers", _("客户总数"), overall["customers"], link=customers_url(**base)),
            kpi(
                "new",
                _("期内新客户"),
                totals["new"],
                link=customers_url(
                    **base, created_after=period.start.isoformat(), created_before=period.last_day.isoformat()
                ),
            ),
            kpi("paying", _("成交客户"), overall["paying"]),
            kpi("value", _("生命周期价值合计（元）"), overall["value"], kind="money"),
            kpi("average", _("成交客户平均价值（元）"), overall["average"], kind="money"),
            kpi(
                "paying_share",
                _("成交客户占比"),
                ratio(overall["paying"], overall["customers"]),
                kind="percent",
            ),
        ],
        tables=tables,
        charts=[
            chart("budget_tier", "pie", "budget_tier", ["customers"], _("客户预算档")),
            chart("lifecycle", "bar", "lifecycle", ["customers", "paying"], _("客户生命周期")),
            chart("channel_value", "hbar", "channel", ["value"], _("各渠道生命周期价值（元）")),
        ],
        notes=[
            _("客户构成为实时快照（时间范围只影响“期内新客户”）；项目经理筛选不作用于本面板。"),
            _("生命周期价值 = 已签约未取消的合同额 + 已批准的变更单金额；售后暂无收费金额，不计入。"),
            _("风格按客户的风格偏好统计，选了多个风格的客户在每个风格下各计一次。"),
        ],
        ignored_filters=["pm"],
    )


def _by_style(scope: Scope, base: dict) -> dict:
    """One aggregate row per style (a customer may prefer several): two queries for all styles."""
    customers = _customers(scope).aggregate(
        **{
            f"{style}__{name}": aggregate
            for style in Style.values
            for name, aggregate in (
                ("n", Count("id", filter=_style_q("", style))),
                ("contracts", Sum("contract_total_fen", filter=_style_q("", style))),
                ("paying", Count("id", filter=_style_q("", style) & Q(contract_total_fen__gt=0))),
            )
        }
    )
    changes = _change_orders(scope).aggregate(
        **{
            style: Sum("amount_delta_fen", filter=_style_q("project__customer__", style))
            for style in Style.values
        }
    )
    rows = [
        row(
            style,
            label,
            _values(
                customers[f"{style}__n"],
                customers[f"{style}__contracts"] or 0,
                changes[style] or 0,
                customers[f"{style}__paying"],
            ),
            {"customers": customers_url(**{**base, "style": style})},
        )
        for style, label in Style.choices
        if customers[f"{style}__n"]
    ]
    return table("style", _("按风格偏好"), COLUMNS, rows)


def _by_region(scope: Scope, base: dict) -> dict:
    """The largest ``REGION_LIMIT`` city + district pairs by customers."""
    top = list(
        _customers(scope)
        .values("city", "district")
        .annotate(
            n=Count("id"),
            contracts=Sum("contract_total_fen"),
            paying=Count("id", filter=Q(contract_total_fen__gt=0)),
        )
        .order_by("-n", "city", "district")[:REGION_LIMIT]
    )
    changes = {
        (city, district): total
        for city, district, total in _change_orders(scope)
        .values_list("project__customer__city", "project__customer__district")
        .annotate(total=Sum("amount_delta_fen"))
        .values_list("project__customer__city", "project__customer__district", "total")
    }
    rows = []
    for item in top:
        city, district = item["city"], item["district"]
        label = " ".join(part for part in (city, district) if part) or str(_("未填写"))
        links = {}
        if city and district:
            links = {"customers": customers_url(**base, city=city, district=district)}
        rows.append(
            row(
                f"{city}|{district}",
                label,
                _values(
                    item["n"], item["contracts"] or 0, changes.get((city, district)) or 0, item["paying"]
                ),
                links,
            )
        )
    return table("region", _("按地区（前 15）"), COLUMNS, rows)
