"""Reads shared by pages, API, tasks and the customer progress page."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Avg, Count, F, Field, Prefetch, Q, QuerySet, Sum, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import RowNumber
from django.utils import timezone

from crm.hashed_secrets import hash_secret
from crm.models import Tenant, User
from crm.tenancy import platform_scope
from customers.visibility import rows_visible_to
from projects.models import (
    DEFAULT_PLANNED_DAYS,
    STAGE_ORDER,
    AcceptanceKind,
    ChangeOrder,
    ChangeOrderStatus,
    ConfirmationCode,
    DailyLog,
    Inspection,
    InspectionKind,
    Project,
    Rectification,
    ShareLink,
    SitePhoto,
    Stage,
    StageSetting,
)


@dataclass(frozen=True)
class StageInfo:
    key: str
    name: str
    planned_days: int
    index: int


def stage_settings(*, tenant: Tenant) -> list[StageInfo]:
    """The tenant's stage names and durations, in the fixed order (defaults where not customised)."""
    rows = StageSetting.objects.values_list("stage", "name", "planned_days")
    return stage_settings_from_rows(rows)


def stage_settings_from_rows(rows: Iterable[tuple[str, str, int]]) -> list[StageInfo]:
    """``stage_settings`` from ``(stage, name, planned_days)`` rows already read (the detail page
    reads them within its one statement)."""
    custom = {stage: (name, planned_days) for stage, name, planned_days in rows}
    result = []
    for index, key in enumerate(STAGE_ORDER):
        row = custom.get(key)
        result.append(
            StageInfo(
                key=key,
                name=row[0] if row else str(Stage(key).label),
                planned_days=row[1] if row else DEFAULT_PLANNED_DAYS[key],
                index=index,
            )
        )
    return result


def stage_names(*, tenant: Tenant) -> dict[str, str]:
    return {info.key: info.name for info in stage_settings(tenant=tenant)}


def overdue_q(*, tenant: Tenant, now: datetime.datetime | None = None) -> Q:
    """Projects whose current stage has run past its planned duration (handed-over/cancelled excluded)."""
    now = now or timezone.now()
    condition = Q(pk__in=[])
    for info in stage_settings(tenant=tenant):
        if info.key == Stage.HANDOVER or info.planned_days <= 0:
            continue
        condition |= Q(stage=info.key, stage_entered_at__lt=now - datetime.timedelta(days=info.planned_days))
    return condition & Q(cancelled_at__isnull=True, handed_over_on__isnull=True)


def overdue_projects(*, tenant: Tenant, now: datetime.datetime | None = None) -> QuerySet[Project]:
    return Project.objects.filter(overdue_q(tenant=tenant, now=now))


def projects_for_list(
    *,
    tenant: Tenant,
    stage: str = "",
    overdue: bool = False,
    staff_id: int | None = None,
    customer_id: int | None = None,
    search: str = "",
) -> QuerySet[Project]:
    queryset = Project.objects.select_related(
        "customer", "designer", "project_manager", "supervisor", "service_owner"
    ).annotate(
        approved_delta=Sum(
            "change_orders__amount_delta_fen", filter=Q(change_orders__status=ChangeOrderStatus.APPROVED)
        )
    )
    if stage:
        queryset = queryset.filter(stage=stage)
    if overdue:
        queryset = queryset.filter(overdue_q(tenant=tenant))
    if staff_id:
        queryset = queryset.filter(
            Q(designer_id=staff_id)
            | Q(project_manager_id=staff_id)
            | Q(supervisor_id=staff_id)
            | Q(service_owner_id=staff_id)
        )
    if customer_id:
        queryset = queryset.filter(customer_id=customer_id)
    if search:
        queryset = queryset.filter(
            Q(name__icontains=search)
            | Q(contract_number__icontains=search)
            | Q(customer__name__icontains=search)
        )
    return queryset.order_by("-created_at", "-id")


def drilldown_q(filters: dict) -> Q:
    """The analytics pages' drill-down parameters of the project list (hidden form fields)."""
    condition = Q()
    if filters.get("active"):
        condition &= Q(cancelled_at__isnull=True) & ~Q(stage=Stage.HANDOVER)
    if filters.get("signed_after"):
        condition &= Q(signed_on__gte=filters["signed_after"], cancelled_at__isnull=True)
    if filters.get("signed_before"):
        condition &= Q(signed_on__lte=filters["signed_before"], cancelled_at__isnull=True)
    for name, lookup in (
        ("owner", "customer__owner_id"),
        ("designer", "designer_id"),
        ("pm", "project_manager_id"),
        ("channel", "customer__source_channel"),
    ):
        if filters.get(name):
            condition &= Q(**{lookup: filters[name]})
    return condition


def is_overdue(project: Project, settings: list[StageInfo], now: datetime.datetime | None = None) -> bool:
    if project.stage == Stage.HANDOVER or project.cancelled_at or project.handed_over_on:
        return False
    info = settings[STAGE_ORDER.index(project.stage)]
    if info.planned_days <= 0:
        return False
    return project.stage_entered_at < (now or timezone.now()) - datetime.timedelta(days=info.planned_days)


def stage_due_at(project: Project, settings: list[StageInfo]) -> datetime.datetime:
    info = settings[STAGE_ORDER.index(project.stage)]
    return project.stage_entered_at + datetime.timedelta(days=info.planned_days)


# --------------------------------------------------------------------------- project detail page
# The page's header and its stages tab in ONE statement: the project row (with customer and team)
# carries the tenant's stage settings, the approved change-order total and, on the stages tab, the
# stage history and acceptances as JSON sub-selects (issue 12: the page measured 11× its raw-SQL
# limit with a statement per section). RLS applies to the sub-selects as to any statement.

TEAM_ROLES = ("designer", "project_manager", "supervisor", "service_owner")
_USER_NAME = "coalesce(nullif({0}.display_name, ''), {0}.username)"
_DETAIL_SQL = {
    "detail_stage_settings": """(SELECT coalesce(json_agg(json_build_array(s.stage, s.name,
            s.planned_days)), '[]')
        FROM projects_stagesetting s WHERE s.tenant_id = projects_project.tenant_id)""",
    # The team's names (not four joins of crm_user: they cost more to plan than the page's rest).
    "detail_team": "(SELECT json_build_array({}))".format(
        ", ".join(
            f"(SELECT {_USER_NAME.format('u')} FROM crm_user u WHERE u.id = projects_project.{role}_id)"
            for role in TEAM_ROLES
        )
    ),
    "detail_approved_delta": """(SELECT coalesce(sum(co.amount_delta_fen), 0) FROM projects_changeorder co
        WHERE co.project_id = projects_project.id AND co.tenant_id = projects_project.tenant_id
          AND co.status = 'approved')""",
}
_STAGES_TAB_SQL = {
    "detail_history": f"""(SELECT coalesce(json_agg(json_build_array(h.changed_at, h.from_stage, h.to_stage,
            h.direction, h.reason, {_USER_NAME.format("u")}) ORDER BY h.changed_at DESC, h.id DESC), '[]')
        FROM projects_stagehistory h LEFT JOIN crm_user u ON u.id = h.changed_by_id
        WHERE h.project_id = projects_project.id AND h.tenant_id = projects_project.tenant_id)""",
    "detail_acceptances": f"""(SELECT coalesce(json_agg(json_build_array(a.accepted_on, a.kind, a.passed,
            a.notes, {_USER_NAME.format("u")}) ORDER BY a.created_at DESC, a.id DESC), '[]')
        FROM projects_acceptance a LEFT JOIN crm_user u ON u.id = a.recorded_by_id
        WHERE a.project_id = projects_project.id AND a.tenant_id = projects_project.tenant_id)""",
}


def _detail_annotations(tab: str) -> dict[str, RawSQL]:
    sections = {**_DETAIL_SQL, **(_STAGES_TAB_SQL if tab == "stages" else {})}
    # Field(): the json values come parsed by psycopg (JSONField would parse them again).
    return {name: RawSQL(sql, (), output_field=Field()) for name, sql in sections.items()}


def projects_for_detail(*, user: User, tab: str) -> QuerySet[Project]:
    """The projects ``user`` may open, each with what the detail page shows of it (tab ``tab``)."""
    queryset = Project.objects.select_related("customer").annotate(**_detail_annotations(tab))
    return rows_visible_to(user, queryset)


def detail_sections(project: Project, *, tab: str) -> dict:
    """What the detail page shows beside the project row: its stage settings, team names, approved
    change-order total and (stages tab) history and acceptances, from ``projects_for_detail``'s
    annotations, or read in one statement for a project loaded otherwise (a form shown again)."""
    annotations = _detail_annotations(tab)
    if any(not hasattr(project, name) for name in annotations):
        row = Project.objects.filter(pk=project.pk).annotate(**annotations).values(*annotations).get()
    else:
        row = {name: getattr(project, name) for name in annotations}
    result: dict = {"settings": stage_settings_from_rows(row["detail_stage_settings"])}
    stage_names = {info.key: info.name for info in result["settings"]}
    result["approved_delta"] = int(row["detail_approved_delta"] or 0)
    result["team"] = dict(zip(TEAM_ROLES, row["detail_team"], strict=True))
    if tab == "stages":
        result["history"] = [
            {
                "changed_at": datetime.datetime.fromisoformat(changed_at),
                "from_name": stage_names.get(from_stage, ""),
                "to_name": stage_names.get(to_stage, ""),
                "direction": direction,
                "reason": reason,
                "changed_by": changed_by or "",
            }
            for changed_at, from_stage, to_stage, direction, reason, changed_by in row["detail_history"]
        ]
        kinds = dict(AcceptanceKind.choices)
        result["acceptances"] = [
            {
                "accepted_on": datetime.date.fromisoformat(accepted_on),
                "kind_label": kinds.get(kind, kind),
                "passed": passed,
                "notes": notes,
                "recorded_by": recorded_by or "",
            }
            for accepted_on, kind, passed, notes, recorded_by in row["detail_acceptances"]
        ]
    return result


def resolve_share_link(token: str) -> ShareLink | None:
    """Global lookup by token hash (tenant unknown yet); inactive links resolve to nothing.

    Shared by the customer progress page and aftercare's repair-request page."""
    if not token or len(token) > 100:
        return None
    with platform_scope("customer progress page token lookup"):
        link = ShareLink.objects.select_related("tenant").filter(key_hash=hash_secret(token)).first()
    if link is None or not link.tenant.is_active or not link.is_active:
        return None
    return link


def daily_logs_with_photos(*, project: Project, limit: int | None = None) -> list[DailyLog]:
    queryset = (
        DailyLog.objects.filter(project=project)
        .select_related("author")
        .prefetch_related(Prefetch("photos", queryset=SitePhoto.objects.all()))
    )
    return list(queryset[:limit] if limit else queryset)


def inspections_for_project(*, project: Project) -> list[Inspection]:
    return list(
        Inspection.objects.filter(project=project)
        .select_related("inspector", "rectification")
        .prefetch_related("items__photos", "items__rectification__owner")
    )


def open_rectifications(*, project: Project) -> QuerySet[Rectification]:
    return Rectification.objects.filter(project=project).select_related("item", "owner")


def pending_code_decisions(*, link: ShareLink) -> dict[int, str]:
    """Change order id -> decision for this link's codes that can still be entered (unused,
    unexpired, guesses left): the progress page keeps showing their code box, reload or not."""
    from projects.services.share import CODE_MAX_ATTEMPTS

    rows = (
        ConfirmationCode.objects.filter(
            share_link=link,
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
            attempts__lt=CODE_MAX_ATTEMPTS,
            change_order__status=ChangeOrderStatus.SENT,
        )
        .order_by("created_at", "id")
        .values_list("change_order_id", "decision")
    )
    return dict(rows)  # the newest code per change order wins (the one the check reads)


def change_orders_for_project(*, project: Project) -> list[ChangeOrder]:
    return list(
        ChangeOrder.objects.filter(project=project)
        .select_related("created_by", "decided_by")
        .prefetch_related("lines", "events__actor")
    )


def pm_quality_scores(*, tenant: Tenant, since: datetime.date | None = None) -> list[dict]:
    """Average weekly-inspection score per project manager (re-inspections excluded)."""
    queryset = Inspection.objects.filter(kind=InspectionKind.WEEKLY, project__project_manager__isnull=False)
    if since:
        queryset = queryset.filter(inspected_on__gte=since)
    rows = (
        queryset.values("project__project_manager_id", "project__project_manager__display_name")
        .annotate(average=Avg("score"), inspections=Count("id"))
        .order_by("-average")
    )
    return [
        {
            "project_manager_id": row["project__project_manager_id"],
            "project_manager": row["project__project_manager__display_name"],
            "average_score": round(float(row["average"]), 1),
            "inspections": row["inspections"],
        }
        for row in rows
    ]


BOARD_COLUMN_LIMIT = 20


def board_columns(
    *, tenant: Tenant, user: User | None = None, per_column: int = BOARD_COLUMN_LIMIT
) -> list[dict]:
    """Each stage column: its ``per_column`` longest-waiting projects (overdue ones first) and the
    column's total, in a constant number of queries however many projects a tenant has; with
    ``user``, only the projects of customers they may see."""
    settings = stage_settings(tenant=tenant)
    active = Project.objects.filter(cancelled_at__isnull=True)
    if user is not None:
        active = rows_visible_to(user, active)
    totals = dict(active.order_by().values("stage").annotate(total=Count("id")).values_list("stage", "total"))
    ranked = (
        active.annotate(
            board_rank=Window(
                RowNumber(), partition_by=[F("stage")], order_by=[F("stage_entered_at").asc(), F("id").asc()]
            )
        )
        .filter(board_rank__lte=per_column)
        .select_related("customer", "project_manager", "designer")
        .order_by("stage_entered_at", "id")
    )
    by_stage: dict[str, list[Project]] = {}
    for project in ranked:
        project.overdue = is_overdue(project, settings)
        by_stage.setdefault(project.stage, []).append(project)
    columns = []
    for info in settings:
        items = by_stage.get(info.key, [])
        total = totals.get(info.key, 0)
        columns.append({"stage": info, "projects": items, "total": total, "more": total - len(items)})
    return columns
