"""Panel 8: customer value — who the customers are and what they are worth.

Definitions (see docs/metrics.md); a snapshot of today's customer base (the period only picks
the *new customers* figure); filters: channel, sales (owner) and designer apply to the customer,
project manager is ignored.
- **Customers by** budget tier, type, style preference (a customer with several styles counts in
  each), lifecycle, activity, region (city + district) and channel.
- **Lifetime value** (元) = signed contracts not cancelled (the customer's ``contract_total_fen``) +
  approved change orders of the customer's projects. Paid aftercare has no recorded amount yet and
  adds nothing. **Paying customers**: signed-contract value > 0 (change orders alone do not make a
  customer paying); **average** = value ÷ paying customers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def _values(customers: int, contracts: int, changes: int, paying: int) -> dict:
    value = contracts + changes
    return {
        "customers": customers,
        "paying": paying,
        "value": value,
        "average": round(value / paying) if paying else None,
    }


FIELDS = [field for _key, _title, field, _parameter, _choices in DIMENSIONS]
CHANGE_FIELDS = [*FIELDS, "style_preferences", "city", "district"]


def _prefers(preferences: object, style: str) -> bool:
    """Whether a customer's ``style_preferences`` lists ``style``: what PostgreSQL's
    ``style_preferences @> '["<style>"]'`` answers (a top-level array element equal to it)."""
    return isinstance(preferences, list) and style in preferences


def _segments(scope: Scope) -> tuple[list[dict], list[dict]]:
    """Customers grouped by the five dimensions and the style list, change orders grouped by
    those and the region (one statement each).

    The groups are the combinations of the dimensions' choices and the distinct style lists (a few
    hundred, whatever the number of customers); each dimension's table, each style's row and the
    totals are sums of these groups — no per-style condition evaluated on every customer.
    """
    period = scope.period
    customers = list(
        _customers(scope)
        .values(*FIELDS, "style_preferences")
        .annotate(
            n=Count("id"),
            contracts=Sum("contract_total_fen"),
            paying=Count("id", filter=Q(contract_total_fen__gt=0)),
            new=Count("id", filter=Q(created_at__gte=period.start_at, created_at__lt=period.end_at)),
        )
        .order_by()
    )
    changes = list(
        _change_orders(scope)
        .values(*(f"project__customer__{field}" for field in CHANGE_FIELDS))
        .annotate(total=Sum("amount_delta_fen"))
        .order_by()
    )
    return customers, changes


def _grouped(customers: list[dict], changes: list[dict], field: str) -> dict:
    """One dimension's ``{value: (customers' sums, change-order total)}`` from the combined groups."""
    sums: dict = {}
    for group in customers:
        entry = sums.setdefault(group[field], {"n": 0, "contracts": 0, "paying": 0})
        for key in entry:
            entry[key] += group[key] or 0
    change_sums: dict = {}
    for group in changes:
        key = group[f"project__customer__{field}"]
        change_sums[key] = change_sums.get(key, 0) + (group["total"] or 0)
    return {key: (item, change_sums.get(key) or 0) for key, item in sums.items()}


def customer_value_panel(scope: Scope) -> dict:
    period = scope.period
    base = {"source_channel": scope.channel, "owner": scope.sales_id, "designer": scope.designer_id}
    customers, changes = _segments(scope)
    totals = {
        key: sum(group[source] or 0 for group in customers)
        for key, source in (
            ("customers", "n"),
            ("new", "new"),
            ("contracts", "contracts"),
            ("paying", "paying"),
        )
    }
    change_total = sum(group["total"] or 0 for group in changes)
    overall = _values(totals["customers"], totals["contracts"] or 0, change_total, totals["paying"])
    tables = []
    for key, title, field, parameter, choices in DIMENSIONS:
        grouped = _grouped(customers, changes, field)
        rows = []
        for value, label in choices:
            if value not in grouped:
                continue
            item, changed = grouped[value]
            rows.append(
                row(
                    value,
                    label,
                    _values(item["n"], item["contracts"] or 0, changed, item["paying"]),
                    {"customers": customers_url(**{**base, parameter: value})},
                )
            )
        if key == "channel":
            rows.sort(key=lambda item: -item["values"]["value"])
        tables.append(table(key, title, COLUMNS, rows))
    tables.insert(2, _by_style(customers, changes, base))
    tables.append(_by_region(scope, changes, base))
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


def _by_style(customers: list[dict], changes: list[dict], base: dict) -> dict:
    """One row per style (a customer may prefer several), summed from the groups whose style list
    has it."""

    def total(groups: list[dict], key: str, style: str, field: str = "style_preferences") -> int:
        return sum(group[key] or 0 for group in groups if _prefers(group[field], style))

    rows = []
    for style, label in Style.choices:
        customers_n = total(customers, "n", style)
        if not customers_n:
            continue
        values = _values(
            customers_n,
            total(customers, "contracts", style),
            total(changes, "total", style, "project__customer__style_preferences"),
            total(customers, "paying", style),
        )
        rows.append(row(style, label, values, {"customers": customers_url(**{**base, "style": style})}))
    return table("style", _("按风格偏好"), COLUMNS, rows)


def _by_region(scope: Scope, change_groups: list[dict], base: dict) -> dict:
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
    changes: dict[tuple, int] = {}
    for group in change_groups:
        key = (group["project__customer__city"], group["project__customer__district"])
        changes[key] = changes.get(key, 0) + (group["total"] or 0)
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
