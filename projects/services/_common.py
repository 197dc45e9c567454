"""Helpers shared by several project concerns."""

from __future__ import annotations

from django.db.models import Sum
from django.utils import timezone

from crm import events
from crm.models import Tenant, User
from projects.models import (
    Project,
    Stage,
    StageHistory,
)


def _lock(project: Project) -> Project:
    return Project.objects.select_for_update(of=("self",)).get(pk=project.pk)


def _apply_customer_facts(*, tenant: Tenant, project: Project, lifecycle: str | None) -> None:
    """Tell customers how many projects this customer signed and their total (lifecycle moves on)."""
    from customers.services.customers import customer_apply_project_facts

    signed = Project.objects.filter(
        customer_id=project.customer_id, signed_on__isnull=False, cancelled_at__isnull=True
    )
    customer_apply_project_facts(
        tenant=tenant,
        customer=project.customer,
        signed_projects=signed.count(),
        contract_total_fen=signed.aggregate(total=Sum("contract_amount_fen"))["total"] or 0,
        lifecycle=lifecycle,
    )


def _record_stage(
    *, project: Project, to_stage: str, by: User | None, reason: str, direction: str = "forward"
) -> None:
    """Move ``project`` (caller saves it) and write the history row."""
    StageHistory.objects.create(
        tenant_id=project.tenant_id,
        project=project,
        from_stage=project.stage,
        to_stage=to_stage,
        direction=direction,
        reason=reason,
        changed_by=by,
    )
    events.publish(
        events.EventType.PROJECT_STAGE_CHANGED,
        tenant=project.tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
        from_stage=project.stage,
        to_stage=to_stage,
    )
    project.stage = to_stage
    project.stage_entered_at = timezone.now()
    if to_stage == Stage.DEMOLITION and project.construction_started_on is None:
        project.construction_started_on = timezone.localdate()
