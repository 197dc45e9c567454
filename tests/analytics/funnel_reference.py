"""The funnel computed from the source tables, as before ``analytics.milestones`` existed: kept
only as the oracle of ``test_milestones`` (the panel must give the same numbers)."""

from __future__ import annotations

import datetime

from django.db import connection
from django.db.models import BooleanField, Case, Count, IntegerField, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from analytics.scope import Scope
from customers.models import HUMAN_FOLLOW_UP_KINDS, Customer, FollowUp
from customers.selectors import FUNNEL_STEPS, funnel_reached_q
from projects.models import Project, Stage, StageHistory

STEPS = ("inquiry", *FUNNEL_STEPS)
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


def step_medians(scope: Scope) -> dict[str, float | None]:
    period = scope.period
    cohort_sql, cohort_params = (
        cohort(scope, since=period.start_at, until=period.end_at)
        .order_by()
        .values("id", "created_at", "measured_at")
        .query.sql_with_params()
    )
    kinds = sorted(HUMAN_FOLLOW_UP_KINDS)
    stages = list(STEP_STAGE.values())

    def days(later: str, earlier: str) -> str:
        return f"EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0"

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
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {days(column_of[later], column_of[earlier])})"
        for earlier, later in zip(STEPS, STEPS[1:], strict=False)
    )
    sql = f"""
        WITH cohort AS ({cohort_sql}),
        responded AS (
            SELECT f.customer_id, MIN(f.occurred_at) AS first_at
            FROM {FollowUp._meta.db_table} f JOIN cohort ON cohort.id = f.customer_id
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
        SELECT {medians} FROM cohort c
        LEFT JOIN responded r ON r.customer_id = c.id LEFT JOIN reached s ON s.customer_id = c.id
    """
    tenant_id = scope.tenant.pk
    params = [*cohort_params, tenant_id, *kinds, *stages, tenant_id, tenant_id, *stages]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        values = cursor.fetchone()
    return dict(zip(STEPS[1:], values, strict=True))


def step_counts(scope: Scope) -> dict[str, int]:
    period, previous = scope.period, scope.previous
    furthest = Case(
        *(When(step_q(step), then=Value(index)) for index, step in reversed(list(enumerate(STEPS))) if index),
        default=Value(0),
        output_field=IntegerField(),
    )
    in_period = Q(created_at__gte=period.start_at, created_at__lt=period.end_at)
    groups = (
        cohort(scope, since=previous.start_at, until=period.end_at)
        .annotate(
            furthest=furthest,
            current=Case(
                When(in_period, then=Value(True)), default=Value(False), output_field=BooleanField()
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


def by_channel(scope: Scope) -> list[tuple[str, int, int, int]]:
    period = scope.period
    signed_q = funnel_reached_q("signed")
    return [
        (item["source_channel"], item["inquiries"], item["signed"], item["value"])
        for item in cohort(scope, since=period.start_at, until=period.end_at)
        .values("source_channel")
        .annotate(
            inquiries=Count("id"),
            signed=Count("id", filter=signed_q),
            value=Coalesce(Sum("contract_total_fen", filter=signed_q), 0),
        )
        .order_by("-inquiries", "source_channel")
    ]
