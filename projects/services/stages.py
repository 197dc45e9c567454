"""The stage machine: moves, acceptances, handover and the per-tenant stage settings."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from crm import events
from crm.models import Tenant, User
from crm.permissions import has_permission
from projects.models import (
    DESIGN_STAGES,
    PM_STAGES,
    STAGE_ORDER,
    Acceptance,
    AcceptanceKind,
    Project,
    Stage,
    StageSetting,
    stage_index,
)
from projects.services._common import _apply_customer_facts, _lock, _record_stage


def acceptance_passed(*, project: Project, kind: str) -> bool:
    """The latest acceptance of this kind decides (a later failure withdraws an earlier pass).

    Only acceptances recorded since the project last entered its current stage count: after a
    move back for rework, the checkpoint must be passed again.
    """
    latest = (
        Acceptance.objects.filter(project=project, kind=kind, created_at__gte=project.stage_entered_at)
        .order_by("-created_at", "-id")
        .first()
    )
    return latest is not None and latest.passed


@transaction.atomic
def project_handover(
    *, tenant: Tenant, project: Project, handed_over_by: User, handed_over_on: datetime.date
) -> Project:
    """Hand the finished home over and announce ``project_handed_over`` (aftercare schedules visits).

    Requires a passed completion acceptance. Running it twice does nothing the second time.
    """
    project = _lock(project)
    if project.handed_over_on is not None:
        return project
    if project.cancelled_at is not None:
        raise ValidationError({"stage": gettext("合同已取消，不能交付。")})
    if project.stage not in (Stage.COMPLETION_ACCEPTANCE, Stage.HANDOVER):
        # the direct /handover/ action must not jump over stages (e.g. after a move back for rework)
        raise ValidationError({"stage": gettext("项目须处于「竣工验收」阶段才能交付。")})
    if not acceptance_passed(project=project, kind=AcceptanceKind.COMPLETION):
        raise ValidationError({"stage": gettext("竣工验收尚未通过，不能交付。")})
    project.handed_over_on = handed_over_on
    fields = ["handed_over_on"]
    if project.stage != Stage.HANDOVER:
        _record_stage(project=project, to_stage=Stage.HANDOVER, by=handed_over_by, reason="交付")
        fields += ["stage", "stage_entered_at"]
    project.save(update_fields=fields)
    events.publish(
        events.EventType.PROJECT_HANDED_OVER,
        tenant=tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
    )
    _apply_customer_facts(tenant=tenant, project=project, lifecycle="handed_over")
    return project


def can_move_stage(user: User | None, from_stage: str, to_stage: str) -> bool:
    """Designers move design stages, project managers construction stages, managers anything."""
    if has_permission(user, "projects.move_any_stage"):
        return True
    if has_permission(user, "projects.move_design_stages") and {from_stage, to_stage} <= DESIGN_STAGES:
        return True
    return has_permission(user, "projects.move_construction_stages") and {from_stage, to_stage} <= PM_STAGES


@transaction.atomic
def project_move_stage(
    *, tenant: Tenant, project: Project, to_stage: str, moved_by: User, reason: str = ""
) -> Project:
    """The only way a stage changes: forward exactly one step, or back (any number) with a reason.

    Gates: "contract signed" needs a signed contract; masonry needs passed hidden-works
    acceptance; handover goes through :func:`project_handover` (completion acceptance).
    """
    if to_stage not in STAGE_ORDER:
        raise ValidationError({"to_stage": gettext("未知阶段。")})
    project = _lock(project)
    current = project.stage
    if project.cancelled_at is not None:
        raise ValidationError({"to_stage": gettext("合同已取消，项目阶段不能再变更。")})
    if project.handed_over_on is not None:
        raise ValidationError({"to_stage": gettext("项目已交付，阶段不能再变更。")})
    step = stage_index(to_stage) - stage_index(current)
    if step == 0:
        raise ValidationError({"to_stage": gettext("项目已处于该阶段。")})
    if step > 1:
        raise ValidationError({"to_stage": gettext("不能跳过阶段，只能前进一步。")})
    reason = (reason or "").strip()
    if step < 0 and not reason:
        raise ValidationError({"reason": gettext("退回阶段必须填写原因。")})
    if not can_move_stage(moved_by, current, to_stage):
        raise PermissionDenied(gettext("您的角色无权变更该阶段。"))
    if to_stage == Stage.HANDOVER:
        return project_handover(
            tenant=tenant, project=project, handed_over_by=moved_by, handed_over_on=timezone.localdate()
        )
    if step > 0 and to_stage == Stage.CONTRACT_SIGNED and project.signed_on is None:
        raise ValidationError({"to_stage": gettext("请先签订合同（录入合同编号与金额）。")})
    if (
        step > 0
        and to_stage == Stage.MASONRY
        and not acceptance_passed(project=project, kind=AcceptanceKind.HIDDEN_WORKS)
    ):
        raise ValidationError({"to_stage": gettext("水电隐蔽工程验收未通过，不能进入泥瓦阶段。")})
    _record_stage(
        project=project,
        to_stage=to_stage,
        by=moved_by,
        reason=reason,
        direction="forward" if step > 0 else "back",
    )
    project.save(update_fields=["stage", "stage_entered_at", "construction_started_on"])
    if step > 0 and to_stage == Stage.DEMOLITION:
        _apply_customer_facts(tenant=tenant, project=project, lifecycle="under_construction")
    return project


@transaction.atomic
def project_advance(*, tenant: Tenant, project: Project, advanced_by: User, reason: str = "") -> Project:
    """One step forward from the current stage."""
    index = stage_index(project.stage)
    if index + 1 >= len(STAGE_ORDER):
        raise ValidationError({"to_stage": gettext("项目已处于最后阶段。")})
    return project_move_stage(
        tenant=tenant, project=project, to_stage=STAGE_ORDER[index + 1], moved_by=advanced_by, reason=reason
    )


@transaction.atomic
def acceptance_record(
    *,
    tenant: Tenant,
    project: Project,
    kind: str,
    passed: bool,
    recorded_by: User,
    accepted_on: datetime.date | None = None,
    notes: str = "",
) -> Acceptance:
    """Record a checkpoint acceptance in the stage it belongs to."""
    required_stages: dict[str, str] = {
        AcceptanceKind.HIDDEN_WORKS: Stage.PLUMBING_ELECTRICAL,
        AcceptanceKind.COMPLETION: Stage.COMPLETION_ACCEPTANCE,
    }
    required_stage = required_stages.get(kind)
    if required_stage is None:
        raise ValidationError({"kind": gettext("未知验收类型。")})
    project = _lock(project)
    if project.stage != required_stage:
        raise ValidationError(
            {"kind": gettext("只能在「%(stage)s」阶段记录该验收。") % {"stage": Stage(required_stage).label}}
        )
    if not passed and not (notes or "").strip():
        raise ValidationError({"notes": gettext("验收不通过时请写明问题。")})
    acceptance = Acceptance.objects.create(
        tenant=tenant,
        project=project,
        kind=kind,
        passed=passed,
        notes=notes,
        accepted_on=accepted_on or timezone.localdate(),
        recorded_by=recorded_by,
    )
    if passed and kind == AcceptanceKind.HIDDEN_WORKS:
        # aftercare sends the plumbing & electrical CSAT survey (deduplicated on its side)
        events.publish(
            events.EventType.PROJECT_MILESTONE,
            tenant=tenant,
            project_id=project.pk,
            customer_id=project.customer_id,
            milestone="plumbing_electrical",
        )
    return acceptance


@transaction.atomic
def stage_setting_update(*, tenant: Tenant, stage: str, name: str, planned_days: int) -> StageSetting:
    """Rename a stage / set its planned duration (the order never changes)."""
    if stage not in STAGE_ORDER:
        raise ValidationError({"stage": gettext("未知阶段。")})
    if not (name or "").strip():
        raise ValidationError({"name": gettext("请填写阶段名称。")})
    if planned_days is None or planned_days < 0 or planned_days > 365:
        raise ValidationError({"planned_days": gettext("计划天数应在 0–365 之间。")})
    setting, _ = StageSetting.objects.update_or_create(
        stage=stage, defaults={"name": name.strip(), "planned_days": planned_days, "tenant": tenant}
    )
    return setting
