"""Design plans: create, revise (with snapshots) and choose."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Tenant, User
from projects.models import (
    DesignPlan,
    DesignPlanRevision,
    Project,
)
from projects.services._common import _lock


def _snapshot(plan: DesignPlan, by: User | None, note: str) -> None:
    DesignPlanRevision.objects.create(
        tenant_id=plan.tenant_id,
        plan=plan,
        version=plan.version,
        title=plan.title,
        style=plan.style,
        cost_min_fen=plan.cost_min_fen,
        cost_max_fen=plan.cost_max_fen,
        notes=plan.notes,
        change_note=note,
        changed_by=by,
    )


def _check_cost(cost_min_fen: int, cost_max_fen: int) -> None:
    if cost_min_fen is None or cost_max_fen is None or cost_min_fen < 0 or cost_max_fen < cost_min_fen:
        raise ValidationError({"cost_max_fen": _("预算上限不能低于下限。")})


@transaction.atomic
def design_plan_create(
    *,
    tenant: Tenant,
    project: Project,
    created_by: User,
    label: str,
    title: str,
    cost_min_fen: int,
    cost_max_fen: int,
    style: str = "",
    notes: str = "",
) -> DesignPlan:
    """Add an option (at most 3 per project); version 1 is kept as the first revision."""
    project = _lock(project)
    _check_cost(cost_min_fen, cost_max_fen)
    if DesignPlan.objects.filter(project=project).count() >= 3:
        raise ValidationError({"label": _("每个项目最多 3 个设计方案。")})
    if DesignPlan.objects.filter(project=project, label=label).exists():
        raise ValidationError({"label": _("方案「%(label)s」已存在。") % {"label": label}})
    plan = DesignPlan.objects.create(
        tenant=tenant,
        project=project,
        label=label,
        title=title,
        style=style,
        cost_min_fen=cost_min_fen,
        cost_max_fen=cost_max_fen,
        notes=notes,
        updated_by=created_by,
    )
    _snapshot(plan, created_by, _("创建方案"))
    return plan


@transaction.atomic
def design_plan_revise(
    *, tenant: Tenant, plan: DesignPlan, revised_by: User, change_note: str = "", **changes: Any
) -> DesignPlan:
    """Change a plan: the version goes up and the new state is kept as a revision."""
    plan = DesignPlan.objects.select_for_update(of=("self",)).get(pk=plan.pk)
    allowed = {"title", "style", "cost_min_fen", "cost_max_fen", "notes"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: _("该字段不能修改。")})
    for field, value in changes.items():
        setattr(plan, field, value)
    _check_cost(plan.cost_min_fen, plan.cost_max_fen)
    plan.version += 1
    plan.updated_by = revised_by
    plan.save()
    _snapshot(plan, revised_by, change_note)
    return plan


@transaction.atomic
def design_plan_choose(*, tenant: Tenant, plan: DesignPlan, chosen_by: User) -> DesignPlan:
    """Record the customer's choice (one chosen plan per project)."""
    project = _lock(plan.project)
    DesignPlan.objects.filter(project=project, is_chosen=True).exclude(pk=plan.pk).update(
        is_chosen=False, chosen_at=None
    )
    plan = DesignPlan.objects.get(pk=plan.pk)
    if not plan.is_chosen:
        plan.is_chosen = True
        plan.chosen_at = timezone.now()
        plan.updated_by = chosen_by
        plan.save(update_fields=["is_chosen", "chosen_at", "updated_by", "updated_at"])
        events.publish(
            events.EventType.PROJECT_MILESTONE,
            tenant=tenant,
            project_id=project.pk,
            customer_id=project.customer_id,
            milestone="design_approval",
        )
        if plan.style and not project.style:
            project.style = plan.style
            project.save(update_fields=["style"])
    return plan
