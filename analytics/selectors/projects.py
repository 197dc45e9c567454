"""Panel 4: projects — where they stand, what is stuck, how fast stages go, quality by PM.

Definitions (see docs/metrics.md); filters: channel = the customer's source channel, sales = the
customer's owner, designer and project manager = the project's.
- **Active by stage**: projects now in each stage, neither cancelled nor handed over (a snapshot,
  not bound to the period).
- **Overdue**: active projects whose current stage has run past its planned days.
- **Average days per stage vs plan**: stage stints (from the stage history) that *ended* in the
  period: average of (left − entered) in days, next to the tenant's planned days.
- **Change-order share**: approved change orders decided in the period ÷ contract value of the
  same projects.
- **Open rectifications** now; **inspection pass rate**: passed ÷ all inspection items of the
  inspections dated in the period, by project manager.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import BooleanField, Count, Q, Sum
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from analytics.scope import Scope
from analytics.selectors.common import (
    chart,
    column,
    kpi,
    panel,
    project_filter_params,
    projects_url,
    ratio,
    rounded,
    row,
    table,
)
from projects import selectors as project_selectors
from projects.models import (
    ChangeOrder,
    ChangeOrderStatus,
    InspectionItem,
    Project,
    Rectification,
    Stage,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from crm.models import Tenant


def stage_deadlines(
    *, tenant: Tenant, now: datetime.datetime, settings: list[project_selectors.StageInfo] | None = None
) -> dict[str, datetime.datetime]:
    """Each stage's deadline for live projects: entered before it means overdue (``now`` minus the
    stage's planned days; handover and stages without a plan have none). ``settings``: the tenant's
    ``stage_settings`` when the caller has them already (one statement fewer)."""
    if settings is None:
        settings = project_selectors.stage_settings(tenant=tenant)
    return {
        info.key: now - datetime.timedelta(days=info.planned_days)
        for info in settings
        if info.key != Stage.HANDOVER and info.planned_days > 0
    }


def live_overdue_expression(
    *, tenant: Tenant, now: datetime.datetime, deadlines: dict[str, datetime.datetime] | None = None
) -> RawSQL:
    """``projects.selectors.overdue_q`` for projects already known to be live (not cancelled, not
    handed over): the current stage was entered before its deadline (``now`` minus its planned
    days; handover and stages without a plan never). One ``CASE stage`` expression instead of a
    dozen OR-ed lookups: the ORM builds it in microseconds, PostgreSQL compares one deadline per row."""
    if deadlines is None:
        deadlines = stage_deadlines(tenant=tenant, now=now)
    if not deadlines:
        return RawSQL("false", [], output_field=BooleanField())
    column = f'"{Project._meta.db_table}".'
    whens = " ".join("WHEN %s THEN %s" for _ in deadlines)
    return RawSQL(
        f'{column}"stage_entered_at" < CASE {column}"stage" {whens} END',
        [value for pair in deadlines.items() for value in pair],
        output_field=BooleanField(),
    )


def scoped_projects(scope: Scope, prefix: str = "") -> dict[str, object]:
    conditions: dict[str, object] = {}
    if scope.channel:
        conditions[f"{prefix}customer__source_channel"] = scope.channel
    if scope.sales_id:
        conditions[f"{prefix}customer__owner_id"] = scope.sales_id
    if scope.designer_id:
        conditions[f"{prefix}designer_id"] = scope.designer_id
    if scope.pm_id:
        conditions[f"{prefix}project_manager_id"] = scope.pm_id
    return conditions


def _stage_durations(scope: Scope) -> dict[str, tuple[float, int]]:
    """Average days of the stage stints that ended in the period: one windowed SQL query."""
    period = scope.period
    days = (
        "EXTRACT(EPOCH FROM (s.left_at - s.entered_at)) / 86400.0"
        if connection.vendor == "postgresql"
        else "julianday(s.left_at) - julianday(s.entered_at)"
    )
    where = ["s.left_at >= %s", "s.left_at < %s"]
    params: list[Any] = [period.start_at, period.end_at]
    for column_sql, value in (
        ("c.source_channel", scope.channel),
        ("c.owner_id", scope.sales_id),
        ("p.designer_id", scope.designer_id),
        ("p.project_manager_id", scope.pm_id),
    ):
        if value:
            where.append(f"{column_sql} = %s")
            params.append(value)
    # Raw SQL is not scoped by the tenant manager: the tenant condition is explicit (RLS also applies).
    sql = f"""
        WITH stints AS (
            SELECT h.project_id, h.to_stage AS stage, h.changed_at AS entered_at,
                   LEAD(h.changed_at) OVER (PARTITION BY h.project_id ORDER BY h.changed_at, h.id) AS left_at
            FROM projects_stagehistory h WHERE h.tenant_id = %s
        )
        SELECT s.stage, AVG({days}), COUNT(*)
        FROM stints s
        JOIN projects_project p ON p.id = s.project_id AND p.tenant_id = %s
        JOIN customers_customer c ON c.id = p.customer_id AND c.tenant_id = %s
        WHERE {" AND ".join(where)}
        GROUP BY s.stage
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [scope.tenant.pk, scope.tenant.pk, scope.tenant.pk, *params])
        return {stage: (float(average), count) for stage, average, count in cursor.fetchall()}


def projects_panel(scope: Scope) -> dict:
    period = scope.period
    now = scope.now or timezone.now()
    settings = project_selectors.stage_settings(tenant=scope.tenant)
    # ``projects.selectors.overdue_q`` from the settings read above (the workbench's one-expression
    # form, tested equal to it), not a second read of them
    deadlines = stage_deadlines(tenant=scope.tenant, now=now, settings=settings)
    overdue = Q(live_overdue_expression(tenant=scope.tenant, now=now, deadlines=deadlines)) & Q(
        cancelled_at__isnull=True, handed_over_on__isnull=True
    )
    active = Q(cancelled_at__isnull=True) & ~Q(stage=Stage.HANDOVER)
    projects = Project.objects.filter(**scoped_projects(scope))
    by_stage = {
        item["stage"]: item
        for item in projects.filter(active)
        .values("stage")
        .annotate(active=Count("id"), overdue=Count("id", filter=overdue))
    }
    durations = _stage_durations(scope)
    base = project_filter_params(scope)
    stage_rows = []
    for info in settings:
        if info.key == Stage.HANDOVER:
            continue
        item = by_stage.get(info.key, {})
        average, stints = durations.get(info.key, (None, 0))
        stage_rows.append(
            row(
                info.key,
                info.name,
                {
                    "active": item.get("active", 0),
                    "overdue": item.get("overdue", 0),
                    "avg_days": rounded(average),
                    "planned_days": info.planned_days,
                    "stints": stints,
                },
                {
                    "active": projects_url(**base, stage=info.key, active="on"),
                    "overdue": projects_url(**base, stage=info.key, overdue="on"),
                },
            )
        )
    total_active = sum(item["values"]["active"] for item in stage_rows)
    total_overdue = sum(item["values"]["overdue"] for item in stage_rows)

    with_changes = projects.filter(
        pk__in=ChangeOrder.objects.filter(
            status=ChangeOrderStatus.APPROVED, decided_at__gte=period.start_at, decided_at__lt=period.end_at
        ).values("project_id")
    )
    change_delta = (
        ChangeOrder.objects.filter(
            project__in=with_changes,
            status=ChangeOrderStatus.APPROVED,
            decided_at__gte=period.start_at,
            decided_at__lt=period.end_at,
        ).aggregate(total=Sum("amount_delta_fen"))["total"]
        or 0
    )
    change_base = with_changes.aggregate(total=Sum("contract_amount_fen"))["total"] or 0

    pm_rows, open_rectifications = _by_project_manager(scope, projects, active, overdue)
    return panel(
        "projects",
        _("装修项目"),
        scope,
        kpis=[
            kpi("active", _("在建/在谈项目"), total_active, link=projects_url(**base, active="on")),
            kpi("overdue", _("阶段超期"), total_overdue, link=projects_url(**base, overdue="on")),
            kpi("change_share", _("变更金额占合同额"), ratio(change_delta, change_base), kind="percent"),
            kpi("open_rectifications", _("未关闭整改"), open_rectifications),
        ],
        tables=[
            table(
                "by_stage",
                _("各阶段"),
                [
                    column("active", _("当前项目")),
                    column("overdue", _("超期")),
                    column("avg_days", _("期内平均用时（天）"), "days"),
                    column("planned_days", _("计划天数"), "days"),
                    column("stints", _("期内完成的阶段数")),
                ],
                stage_rows,
            ),
            pm_rows,
        ],
        charts=[
            chart("by_stage", "bar", "by_stage", ["active", "overdue"], _("各阶段项目数")),
            chart("stage_days", "bar", "by_stage", ["avg_days", "planned_days"], _("阶段用时与计划（天）")),
        ],
        notes=[
            _("当前项目与超期为实时数据，不受时间范围影响；平均用时统计期内结束的阶段。"),
            _("变更占比：期内批准的变更单金额 ÷ 这些项目的合同额。"),
        ],
    )


def _by_project_manager(scope: Scope, projects: QuerySet[Project], active: Q, overdue: Q) -> tuple[dict, int]:
    """The table by project manager, and the open rectifications of every project in scope (the
    sum of the table's groups, the ``None`` manager's included: the same rows, one statement)."""
    period = scope.period
    counts = {
        item["project_manager_id"]: item
        for item in projects.values("project_manager_id", "project_manager__display_name").annotate(
            active=Count("id", filter=active), overdue=Count("id", filter=active & overdue)
        )
    }
    rectifications = dict(
        Rectification.objects.filter(status=Rectification.Status.OPEN, **scoped_projects(scope, "project__"))
        .values_list("project__project_manager_id")
        .annotate(n=Count("id"))
        .values_list("project__project_manager_id", "n")
    )
    inspected = {
        item["inspection__project__project_manager_id"]: item
        for item in InspectionItem.objects.filter(
            inspection__inspected_on__gte=period.start,
            inspection__inspected_on__lt=period.end,
            **scoped_projects(scope, "inspection__project__"),
        )
        .values("inspection__project__project_manager_id")
        .annotate(items=Count("id"), passed=Count("id", filter=Q(passed=True)))
    }
    base = project_filter_params(scope)
    rows = []
    for pm_id, item in sorted(
        counts.items(), key=lambda pair: (pair[0] is None, pair[1]["project_manager__display_name"] or "")
    ):
        if pm_id is None and not item["active"]:
            continue
        checks = inspected.get(pm_id, {})
        links = {}
        if pm_id is not None:
            links = {
                "active": projects_url(**{**base, "pm": pm_id}, active="on"),
                "overdue": projects_url(**{**base, "pm": pm_id}, overdue="on"),
            }
        rows.append(
            row(
                pm_id or "none",
                item["project_manager__display_name"] or _("未指定"),
                {
                    "active": item["active"],
                    "overdue": item["overdue"],
                    "open_rectifications": rectifications.get(pm_id, 0),
                    "inspection_items": checks.get("items", 0),
                    "pass_rate": ratio(checks.get("passed", 0), checks.get("items", 0)),
                },
                links,
            )
        )
    return table(
        "by_pm",
        _("按项目经理"),
        [
            column("active", _("当前项目")),
            column("overdue", _("超期")),
            column("open_rectifications", _("未关闭整改")),
            column("inspection_items", _("期内质检项")),
            column("pass_rate", _("质检合格率"), "percent"),
        ],
        rows,
    ), sum(rectifications.values())
