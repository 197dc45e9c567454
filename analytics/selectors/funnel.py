"""Panel 1: the sales funnel of the customers whose first inquiry falls in the period (a cohort).

Definitions (see docs/metrics.md):
- **询盘 inquiries**: customers created in the period (the first inquiry creates the customer),
  matching the filters (channel = the customer's source channel, sales = owner, designer).
- Each later step counts the cohort customers who reached *at least* that step
  (``customers.selectors.funnel_reached_q``), so the funnel never widens.
- **Conversion**: step ÷ previous step; **overall**: step ÷ inquiries.
- **Median days between steps**: over cohort customers with both timestamps (first human
  follow-up, ``measured_at``, first entry into the 设计/报价/签约/交付 project stages).
- **By channel**: inquiries, signed, conversion, contract value (``contract_total_fen`` of the signed
  customers), and cost per signed customer when channel spend was entered for the period.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Count, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

from analytics.aggregates import EpochDays, Median
from analytics.models import ChannelSpend
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
from customers.models import HUMAN_FOLLOW_UP_KINDS, Customer, FollowUp, SourceChannel
from customers.selectors import FUNNEL_STEPS, funnel_reached_q
from projects.models import Stage, StageHistory

if TYPE_CHECKING:
    import datetime

    from django.db.models import QuerySet

    from analytics.periods import Period

STEPS = ("inquiry", *FUNNEL_STEPS)
STEP_LABELS = {
    "inquiry": _("询盘"),
    "responded": _("已响应"),
    "measured": _("已量房"),
    "design": _("出设计"),
    "quoted": _("报价"),
    "signed": _("签约"),
    "handed_over": _("交付"),
}
STEP_STAGE = {
    "design": Stage.DESIGN,
    "quoted": Stage.QUOTATION,
    "signed": Stage.CONTRACT_SIGNED,
    "handed_over": Stage.HANDOVER,
}

TIME_OF = {
    "inquiry": "created_at",
    "responded": "t_responded",
    "measured": "measured_at",
    **{step: f"t_{step}" for step in STEP_STAGE},
}


def step_q(step: str) -> Q:
    return Q() if step == "inquiry" else funnel_reached_q(step)


def cohort(scope: Scope, *, since: datetime.datetime, until: datetime.datetime) -> QuerySet[Customer]:
    customers = Customer.objects.filter(created_at__gte=since, created_at__lt=until)
    if scope.channel:
        customers = customers.filter(source_channel=scope.channel)
    if scope.sales_id:
        customers = customers.filter(owner_id=scope.sales_id)
    if scope.designer_id:
        customers = customers.filter(designer_id=scope.designer_id)
    return customers


def _in(period: Period) -> Q:
    return Q(created_at__gte=period.start_at, created_at__lt=period.end_at)


def _step_times(customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """Annotate each customer with the time it first reached each step (one subquery per step)."""
    first_touch = (
        FollowUp.objects.filter(customer_id=OuterRef("pk"), kind__in=HUMAN_FOLLOW_UP_KINDS)
        .order_by("occurred_at")
        .values("occurred_at")[:1]
    )
    annotations = {"t_responded": Subquery(first_touch)}
    for step, stage in STEP_STAGE.items():
        entered = (
            StageHistory.objects.filter(project__customer_id=OuterRef("pk"), to_stage=stage)
            .order_by("changed_at")
            .values("changed_at")[:1]
        )
        annotations[f"t_{step}"] = Subquery(entered)
    return customers.annotate(**annotations)


def funnel_panel(scope: Scope) -> dict:
    period, previous = scope.period, scope.previous
    both = cohort(scope, since=previous.start_at, until=period.end_at)
    aggregates = {}
    for step in STEPS:
        aggregates[step] = Count("id", filter=_in(period) & step_q(step))
        aggregates[f"{step}__prev"] = Count("id", filter=_in(previous) & step_q(step))
    counts = both.aggregate(**aggregates)

    timed = _step_times(cohort(scope, since=period.start_at, until=period.end_at))
    medians = timed.aggregate(
        **{
            later: Median(EpochDays(TIME_OF[later], TIME_OF[earlier]))
            for earlier, later in zip(STEPS, STEPS[1:], strict=False)
        }
    )

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
    channel_table = _by_channel(scope, base)
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


def _by_channel(scope: Scope, base: dict) -> dict:
    period = scope.period
    signed_q = funnel_reached_q("signed")
    rows_qs = (
        cohort(scope, since=period.start_at, until=period.end_at)
        .values("source_channel")
        .annotate(
            inquiries=Count("id"),
            signed=Count("id", filter=signed_q),
            value=Coalesce(Sum("contract_total_fen", filter=signed_q), 0),
        )
        .order_by("-inquiries", "source_channel")
    )
    spend = ChannelSpend.spend_by_channel(period=period)
    labels = dict(SourceChannel.choices)
    rows = []
    for item in rows_qs:
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
