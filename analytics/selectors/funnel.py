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

from django.db import connection
from django.db.models import BooleanField, Case, Count, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _

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
from projects.models import Project, Stage, StageHistory

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


def _step_medians(scope: Scope) -> dict[str, float | None]:
    """Median days between consecutive steps over the period's cohort, in one statement.

    Each cohort customer's first time at each step comes from one grouped pass over its human
    follow-ups and one over its projects' stage history (``MIN`` per customer), joined to the
    cohort — not a correlated subquery per customer and step.
    """
    period = scope.period
    cohort_sql, cohort_params = (
        cohort(scope, since=period.start_at, until=period.end_at)
        .order_by()
        .values("id", "created_at", "measured_at")
        .query.sql_with_params()
    )
    tenant_id = scope.tenant.pk
    kinds = sorted(HUMAN_FOLLOW_UP_KINDS)
    stages = list(STEP_STAGE.values())
    postgres = connection.vendor == "postgresql"

    def days(later: str, earlier: str) -> str:
        if postgres:
            return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0"
        return f"julianday({later}) - julianday({earlier})"

    def median(expression: str) -> str:
        if postgres:
            return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {expression})"
        return f"analytics_percentile({expression}, 0.5)"

    column_of = {
        "inquiry": "c.created_at",
        "responded": "r.first_at",
        "measured": "c.measured_at",
        **{step: f"s.t_{step}" for step in STEP_STAGE},
    }
    firsts = ", ".join(
        f"MIN(CASE WHEN h.to_stage = %s THEN h.changed_at END) AS t_{step}" for step in STEP_STAGE
    )
    medians = ", ".join(
        median(days(column_of[later], column_of[earlier]))
        for earlier, later in zip(STEPS, STEPS[1:], strict=False)
    )
    # Raw SQL is not scoped by the tenant manager: every table names its tenant (RLS also applies).
    sql = f"""
        WITH cohort AS ({cohort_sql}),
        responded AS (
            SELECT f.customer_id, MIN(f.occurred_at) AS first_at
            FROM {FollowUp._meta.db_table} f
            JOIN cohort ON cohort.id = f.customer_id
            WHERE f.tenant_id = %s AND f.kind IN ({", ".join(["%s"] * len(kinds))})
            GROUP BY f.customer_id
        ),
        reached AS (
            SELECT p.customer_id, {firsts}
            FROM {StageHistory._meta.db_table} h
            JOIN {Project._meta.db_table} p ON p.id = h.project_id AND p.tenant_id = %s
            JOIN cohort ON cohort.id = p.customer_id
            WHERE h.tenant_id = %s AND h.to_stage IN ({", ".join(["%s"] * len(stages))})
            GROUP BY p.customer_id
        )
        SELECT {medians}
        FROM cohort c
        LEFT JOIN responded r ON r.customer_id = c.id
        LEFT JOIN reached s ON s.customer_id = c.id
    """
    # In the statement's order: cohort, responded (tenant, kinds), reached (CASE stages, tenants, stages).
    params = [*cohort_params, tenant_id, *kinds, *stages, tenant_id, tenant_id, *stages]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
    return dict(zip(STEPS[1:], values, strict=True))


def _step_counts(scope: Scope) -> dict[str, int]:
    """Customers of both periods' cohorts who reached at least each step, in one statement.

    Each customer's furthest step is worked out once (a ``CASE`` from the last step down, over the
    same ``funnel_reached_q`` conditions) and the customers are grouped by (period, furthest step);
    "reached at least a step" is then the sum of the groups at or beyond it (at most 14 groups).
    """
    period, previous = scope.period, scope.previous
    furthest = Case(
        *(When(step_q(step), then=Value(index)) for index, step in reversed(list(enumerate(STEPS))) if index),
        default=Value(0),
        output_field=IntegerField(),
    )
    groups = (
        cohort(scope, since=previous.start_at, until=period.end_at)
        .annotate(
            furthest=furthest,
            current=Case(
                When(_in(period), then=Value(True)), default=Value(False), output_field=BooleanField()
            ),
        )
        .values("current", "furthest")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = dict.fromkeys([*STEPS, *(f"{step}__prev" for step in STEPS)], 0)
    for group in groups:
        suffix = "" if group["current"] else "__prev"
        for step in STEPS[: group["furthest"] + 1]:
            counts[f"{step}{suffix}"] += group["n"]
    return counts


def funnel_panel(scope: Scope) -> dict:
    period = scope.period
    counts = _step_counts(scope)

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
