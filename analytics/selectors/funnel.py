"""Panel 1: the sales funnel of the customers whose first inquiry falls in the period (a cohort).

Definitions (see docs/metrics.md):
- **询盘 inquiries**: customers created in the period (the first inquiry creates the customer),
  matching the filters (channel = the customer's source channel, sales = owner, designer).
- Each later step counts the cohort customers who reached *at least* that step
  (``customers.selectors.funnel_reached_q``), so the funnel never widens.
- Read from the per-customer milestone rows (``analytics.milestones``: the same conditions and
  first times, kept by database triggers), so each statement is an index range scan of the cohort.
- **Conversion**: step ÷ previous step; **overall**: step ÷ inquiries.
- **Median days between steps**: over cohort customers with both timestamps (first human
  follow-up, ``measured_at``, first entry into the 设计/报价/签约/交付 project stages).
- **By channel**: inquiries, signed, conversion, contract value (``contract_total_fen`` of the signed
  customers), and cost per signed customer when channel spend was entered for the period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import BooleanField, Case, Count, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from analytics.aggregates import EpochDays, Median
from analytics.milestones import STEPS as MILESTONE_STEPS
from analytics.models import ChannelSpend, CustomerMilestone
from analytics.scope import Scope
from analytics.selectors.common import (
    chart,
    column,
    customer_filter_params,
    customers_url,
    kpi,
    panel,
    ratio,
    rounded,
    row,
    table,
)
from customers.models import SourceChannel

if TYPE_CHECKING:
    import datetime

    from django.db.models import QuerySet

STEPS = MILESTONE_STEPS
STEP_LABELS = {
    "inquiry": _("询盘"),
    "responded": _("已响应"),
    "measured": _("已量房"),
    "design": _("出设计"),
    "quoted": _("报价"),
    "signed": _("签约"),
    "handed_over": _("交付"),
}
# the milestone column with each step's first time
STEP_AT = {
    "inquiry": "inquiry_at",
    "responded": "responded_at",
    "measured": "measured_at",
    "design": "design_at",
    "quoted": "quoted_at",
    "signed": "signed_at",
    "handed_over": "handed_over_at",
}
SIGNED = STEPS.index("signed")


def cohort(
    scope: Scope, *, since: datetime.datetime, until: datetime.datetime
) -> QuerySet[CustomerMilestone]:
    """The milestone rows of the customers whose first inquiry falls in ``[since, until)``: an
    index range scan of one narrow table (``analytics.milestones``)."""
    milestones = CustomerMilestone.objects.filter(inquiry_at__gte=since, inquiry_at__lt=until)
    if scope.channel:
        milestones = milestones.filter(source_channel=scope.channel)
    if scope.sales_id:
        milestones = milestones.filter(owner_id=scope.sales_id)
    if scope.designer_id:
        milestones = milestones.filter(designer_id=scope.designer_id)
    return milestones


def _step_medians(scope: Scope) -> dict[str, float | None]:
    """Median days between consecutive steps over the period's cohort (customers with both
    times), one aggregate statement over the milestone rows."""
    period = scope.period
    medians = cohort(scope, since=period.start_at, until=period.end_at).aggregate(
        **{
            later: Median(EpochDays(STEP_AT[later], STEP_AT[earlier]))
            for earlier, later in zip(STEPS, STEPS[1:], strict=False)
        }
    )
    return {step: medians[step] for step in STEPS[1:]}


def _cohort_groups(scope: Scope) -> list[dict]:
    """Both periods' cohorts grouped by (period, furthest step, channel), in one statement: the
    step counts and the channel table are sums of these groups (at most 2 × 7 × 11)."""
    period, previous = scope.period, scope.previous
    groups = (
        cohort(scope, since=previous.start_at, until=period.end_at)
        .annotate(
            current=Case(
                When(inquiry_at__gte=period.start_at, inquiry_at__lt=period.end_at, then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            )
        )
        .values("current", "furthest_step", "source_channel")
        .annotate(n=Count("id"), value=Coalesce(Sum("contract_total_fen"), 0))
        .order_by()
    )
    return [dict(group) for group in groups]


def _step_counts(groups: list[dict]) -> dict[str, int]:
    """Customers of each period's cohort who reached at least each step: the sum of the groups at
    or beyond it."""
    counts = dict.fromkeys([*STEPS, *(f"{step}__prev" for step in STEPS)], 0)
    for group in groups:
        suffix = "" if group["current"] else "__prev"
        for step in STEPS[: group["furthest_step"] + 1]:
            counts[f"{step}{suffix}"] += group["n"]
    return counts


def funnel_panel(scope: Scope) -> dict:
    period = scope.period
    groups = _cohort_groups(scope)
    counts = _step_counts(groups)

    medians = _step_medians(scope)

    base = {
        "created_after": period.start.isoformat(),
        "created_before": period.last_day.isoformat(),
        **customer_filter_params(scope),
    }
    rows = []
    for index, step in enumerate(STEPS):
        current = counts[step]
        before = counts[STEPS[index - 1]] if index else None
        rows.append(
            row(
                step,
                STEP_LABELS[step],
                {
                    "count": current,
                    "previous": counts[f"{step}__prev"],
                    "step_conversion": ratio(current, before) if index else None,
                    "overall_conversion": ratio(current, counts["inquiry"]) if index else None,
                    "median_days": rounded(medians.get(step)) if index else None,
                },
                {"count": customers_url(**base, reached="" if step == "inquiry" else step)},
            )
        )
    steps_table = table(
        "steps",
        _("漏斗各阶段"),
        [
            column("count", _("客户数")),
            column("previous", _("上期")),
            column("step_conversion", _("较上一步转化"), "percent"),
            column("overall_conversion", _("总转化"), "percent"),
            column("median_days", _("距上一步中位天数"), "days"),
        ],
        rows,
    )
    channel_table = _by_channel(scope, base, groups)
    signed = counts["signed"]
    return panel(
        "funnel",
        _("销售漏斗"),
        scope,
        kpis=[
            kpi(
                "inquiry",
                _("询盘"),
                counts["inquiry"],
                counts["inquiry__prev"],
                link=rows[0]["links"]["count"],
            ),
            kpi("signed", _("签约"), signed, counts["signed__prev"], link=rows[5]["links"]["count"]),
            kpi(
                "conversion",
                _("询盘→签约转化率"),
                ratio(signed, counts["inquiry"]),
                ratio(counts["signed__prev"], counts["inquiry__prev"]),
                kind="percent",
            ),
        ],
        tables=[steps_table, channel_table],
        charts=[
            chart("funnel", "funnel", "steps", ["count"], _("销售漏斗")),
            chart("by_channel", "bar", "by_channel", ["inquiries", "signed"], _("各渠道询盘与签约")),
        ],
        notes=[
            _("询盘：期内新建的客户（首次询盘即建客户）；之后各步为该批客户中至少到达该步的人数。"),
            _("报价：暂无报价单记录，以项目进入“报价”阶段为准。"),
            _("项目经理筛选不作用于本面板。"),
        ],
        ignored_filters=["pm"],
    )


def _by_channel(scope: Scope, base: dict, groups: list[dict]) -> dict:
    period = scope.period
    channels: dict[str, dict] = {}
    for group in groups:
        if not group["current"]:
            continue
        item = channels.setdefault(
            group["source_channel"],
            {"source_channel": group["source_channel"], "inquiries": 0, "signed": 0, "value": 0},
        )
        item["inquiries"] += group["n"]
        if group["furthest_step"] >= SIGNED:
            item["signed"] += group["n"]
            item["value"] += group["value"]
    ranked = sorted(channels.values(), key=lambda item: (-item["inquiries"], item["source_channel"]))
    spend = ChannelSpend.spend_by_channel(period=period)
    labels = dict(SourceChannel.choices)
    rows = []
    for item in ranked:
        channel = item["source_channel"]
        channel_base = {**base, "source_channel": channel}
        channel_spend = spend.get(channel)
        rows.append(
            row(
                channel,
                labels.get(channel, channel),
                {
                    "inquiries": item["inquiries"],
                    "signed": item["signed"],
                    "conversion": ratio(item["signed"], item["inquiries"]),
                    "value": item["value"],
                    "spend": channel_spend,
                    "cost_per_signed": round(channel_spend / item["signed"])
                    if channel_spend and item["signed"]
                    else None,
                },
                {
                    "inquiries": customers_url(**channel_base),
                    "signed": customers_url(**channel_base, reached="signed"),
                },
            )
        )
    return table(
        "by_channel",
        _("按渠道"),
        [
            column("inquiries", _("询盘")),
            column("signed", _("签约")),
            column("conversion", _("转化率"), "percent"),
            column("value", _("合同额（元）"), "money"),
            column("spend", _("渠道投放（元）"), "money"),
            column("cost_per_signed", _("单签约成本（元）"), "money"),
        ],
        rows,
    )
