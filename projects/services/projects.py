"""Project records: create and update, with the staff fields checked against the tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Tenant, User
from projects.models import (
    Project,
    Stage,
    StageHistory,
)
from projects.services._common import _lock

if TYPE_CHECKING:
    from customers.models import Customer

PROJECT_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "address",
        "area_sqm",
        "style",
        "planned_start_on",
        "planned_end_on",
        "designer",
        "project_manager",
        "supervisor",
        "service_owner",
    }
)


PROJECT_STAFF_FIELDS = ("designer", "project_manager", "supervisor", "service_owner")


def _check_project_fields(*, tenant: Tenant, project: Project) -> None:
    """Rules shared by create and update: a name, the team from this tenant, a sane plan."""
    if not (project.name or "").strip():
        raise ValidationError({"name": ValidationError(_("请填写项目名称。"), code="required")})
    for field in PROJECT_STAFF_FIELDS:
        user = getattr(project, field)
        if user is not None and user.tenant_id != tenant.pk:
            raise ValidationError({field: ValidationError(_("员工不存在。"), code="invalid_staff")})
    start, end = project.planned_start_on, project.planned_end_on
    if start is not None and end is not None and end < start:
        message = _("计划完工日期不能早于计划开工日期。")
        raise ValidationError({"planned_end_on": ValidationError(message, code="planned_dates_order")})


@transaction.atomic
def project_create(
    *, tenant: Tenant, created_by: User | None, customer: Customer, name: str, **fields: Any
) -> Project:
    """Open a project for a customer at the first stage (history starts here)."""
    if customer.tenant_id != tenant.pk:
        raise ValidationError({"customer": _("客户不存在。")})
    project = Project(tenant=tenant, customer=customer, name=name, **fields)
    _check_project_fields(tenant=tenant, project=project)
    project.stage = Stage.CONSULTATION
    project.stage_entered_at = timezone.now()
    project.full_clean(exclude=["tenant", "customer", "contract_number"])
    project.save()
    StageHistory.objects.create(
        tenant=tenant,
        project=project,
        from_stage="",
        to_stage=project.stage,
        changed_by=created_by,
        reason="创建项目",
    )
    events.publish(
        events.EventType.PROJECT_CREATED, tenant=tenant, project_id=project.pk, customer_id=customer.pk
    )
    return project


@transaction.atomic
def project_update(*, tenant: Tenant, project: Project, updated_by: User | None, **fields: Any) -> Project:  # noqa: ARG001 - actor kept in the service signature
    """Edit a project's details and team (stage, contract and handover have their own services).

    A handed-over project is part of the customer's record and no longer editable.
    """
    unknown = set(fields) - PROJECT_EDITABLE_FIELDS
    if unknown:
        raise ValidationError({"__all__": f"这些字段不能在此修改：{_('、').join(sorted(unknown))}"})
    project = _lock(project)
    if project.handed_over_on is not None or project.stage == Stage.HANDOVER:
        raise ValidationError(_("项目已交付，不能再修改。"), code="project_handed_over")
    for field, value in fields.items():
        setattr(project, field, value)
    _check_project_fields(tenant=tenant, project=project)
    project.full_clean(exclude=["tenant", "customer", "contract_number"])
    project.save(update_fields=[*fields])
    return project
