"""Maintenance plan kinds and the plans scheduled from them when a project is handed over."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext

from aftercare.models import (
    MaintenancePlan,
    PlanKind,
)
from aftercare.services.dates import add_months
from crm.models import Tenant, User
from projects.models import Project

# The default plan kinds every tenant starts with (editable afterwards).
DEFAULT_PLAN_KINDS = [
    {
        "code": "year_1",
        "name": "一年回访",
        "months_after_handover": 12,
        "checklist": ["检查电路（插座、开关、配电箱）", "检查水路（管道、阀门、渗漏）", "检查墙面裂缝"],
        "creates_renovation_lead": False,
    },
    {
        "code": "year_3",
        "name": "三年回访",
        "months_after_handover": 36,
        "checklist": ["墙面翻新（补漆）建议", "五金件与洁具配件更换", "门窗密封检查"],
        "creates_renovation_lead": False,
    },
    {
        "code": "year_5",
        "name": "五年回访",
        "months_after_handover": 60,
        "checklist": ["免费全屋检查", "局部翻新方案（厨卫、软装、家电）"],
        "creates_renovation_lead": True,
    },
]


def plan_kinds_ensure_defaults(*, tenant: Tenant) -> list[PlanKind]:
    """Create the 1/3/5-year kinds if the tenant has none yet; return the active kinds."""
    if not PlanKind.objects.exists():
        PlanKind.objects.bulk_create(
            [PlanKind(tenant=tenant, **spec) for spec in DEFAULT_PLAN_KINDS], ignore_conflicts=True
        )
    return list(PlanKind.objects.filter(is_active=True))


@transaction.atomic
def plan_kind_save(
    *,
    tenant: Tenant,
    code: str,
    name: str,
    months_after_handover: int,
    checklist: list[str],
    creates_renovation_lead: bool = False,
    is_active: bool = True,
) -> PlanKind:
    """Add or edit a plan kind (e.g. a 6-month check); applies to handovers from now on."""
    if months_after_handover < 1 or months_after_handover > 240:
        raise ValidationError({"months_after_handover": gettext("交付后月数必须在 1 到 240 之间。")})
    plan_kinds_ensure_defaults(tenant=tenant)
    kind, _ = PlanKind.objects.update_or_create(
        code=code,
        defaults={
            "tenant": tenant,
            "name": name,
            "months_after_handover": months_after_handover,
            "checklist": [item for item in checklist if item],
            "creates_renovation_lead": creates_renovation_lead,
            "is_active": is_active,
        },
    )
    return kind


@transaction.atomic
def maintenance_plans_schedule(*, tenant: Tenant, project: Project) -> list[MaintenancePlan]:
    """Create the project's plans (one per active kind) due at handover + N months.

    Idempotent: a replayed handover event inserts nothing (unique (tenant, project, kind)).
    """
    if project.handed_over_on is None:
        raise ValidationError({"project": gettext("项目尚未交付，无法生成回访计划。")})
    kinds = plan_kinds_ensure_defaults(tenant=tenant)
    _insert_plans(tenant=tenant, projects=[project], kinds=kinds)
    return list(MaintenancePlan.objects.filter(project=project).select_related("kind"))


def maintenance_plans_schedule_many(
    *, tenant: Tenant, projects: Iterable[Project], batch_size: int = 2000
) -> int:
    """Bulk variant for imports and the benchmark: same rule, set-based inserts (existing plans are
    skipped by the unique constraint). Returns how many plans were considered, not how many were new."""
    kinds = plan_kinds_ensure_defaults(tenant=tenant)
    batch: list[Project] = []
    created = 0
    for project in projects:
        batch.append(project)
        if len(batch) >= batch_size:
            created += _insert_plans(tenant=tenant, projects=batch, kinds=kinds)
            batch = []
    if batch:
        created += _insert_plans(tenant=tenant, projects=batch, kinds=kinds)
    return created


def _insert_plans(*, tenant: Tenant, projects: list[Project], kinds: list[PlanKind]) -> int:
    plans = [
        MaintenancePlan(
            tenant=tenant,
            project_id=project.pk,
            customer_id=project.customer_id,
            kind=kind,
            due_on=add_months(project.handed_over_on, kind.months_after_handover),
            assigned_to_id=project.service_owner_id,
            checklist=[{"item": item} for item in kind.checklist],
        )
        for project in projects
        if project.handed_over_on is not None
        for kind in kinds
    ]
    with transaction.atomic():
        created = MaintenancePlan.objects.bulk_create(plans, ignore_conflicts=True, batch_size=5000)
    return len(created)


@transaction.atomic
def plan_update(
    *,
    tenant: Tenant,
    plan: MaintenancePlan,
    assigned_to: User | None = ...,  # type: ignore[assignment]
    customer_reminder_consent: bool | None = None,
) -> MaintenancePlan:
    """Reassign the service user or record the customer's SMS consent (with its time)."""
    plan = MaintenancePlan.objects.select_for_update(of=("self",)).get(pk=plan.pk)
    fields = []
    if assigned_to is not ...:
        if assigned_to is not None and assigned_to.tenant_id != tenant.pk:
            raise ValidationError({"assigned_to": gettext("员工不存在。")})
        plan.assigned_to = assigned_to
        fields.append("assigned_to")
    if customer_reminder_consent is not None and customer_reminder_consent != plan.customer_reminder_consent:
        plan.customer_reminder_consent = customer_reminder_consent
        plan.customer_reminder_consent_at = timezone.now()
        fields += ["customer_reminder_consent", "customer_reminder_consent_at"]
    if fields:
        plan.save(update_fields=fields)
    return plan


_SCHEDULE_SQL = """
INSERT INTO aftercare_maintenanceplan (tenant_id, project_id, customer_id, kind_id, due_on, status,
    assigned_to_id, checklist, customer_reminder_consent, created_at, updated_at)
SELECT p.tenant_id, p.id, p.customer_id, k.id,
       (p.handed_over_on + make_interval(months => k.months_after_handover::int))::date,
       'scheduled', p.service_owner_id,
       (SELECT coalesce(jsonb_agg(jsonb_build_object('item', item)), '[]'::jsonb)
          FROM jsonb_array_elements_text(k.checklist) AS item),
       false, now(), now()
FROM projects_project p
JOIN aftercare_plankind k ON k.tenant_id = p.tenant_id AND k.is_active
WHERE p.tenant_id = %(tenant)s AND p.handed_over_on IS NOT NULL AND p.id >= %(low)s AND p.id < %(high)s
ON CONFLICT (tenant_id, project_id, kind_id) DO NOTHING
"""


def maintenance_plans_schedule_all(*, tenant: Tenant, batch_size: int = 20000) -> int:
    """Catch-up for imports (and the benchmark): plans for every handed-over project, set-based.

    Same rule as :func:`maintenance_plans_schedule` (PostgreSQL's ``date + interval 'n months'``
    clamps 29 Feb to 28 Feb like :func:`add_months`); one INSERT … SELECT per id range, existing
    plans skipped by the unique constraint. Returns how many plans were inserted.
    """
    plan_kinds_ensure_defaults(tenant=tenant)
    if connection.vendor != "postgresql":
        return maintenance_plans_schedule_many(
            tenant=tenant, projects=Project.objects.exclude(handed_over_on=None)
        )
    bounds = Project.objects.exclude(handed_over_on=None).aggregate(
        low=models.Min("id"), high=models.Max("id")
    )
    if bounds["low"] is None:
        return 0
    inserted = 0
    for low in range(bounds["low"], bounds["high"] + 1, batch_size):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_SCHEDULE_SQL, {"tenant": tenant.pk, "low": low, "high": low + batch_size})
            inserted += cursor.rowcount
    return inserted
