"""Signing and cancelling a project's contract (customer facts follow through customers)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Tenant, User
from crm.validators import MONEY_MAX
from projects import extensions
from projects.models import (
    Project,
    Stage,
    StageHistory,
    stage_index,
)
from projects.services import signing
from projects.services._common import _apply_customer_facts, _lock, _record_stage


@transaction.atomic
def contract_sign(
    *,
    tenant: Tenant,
    project: Project,
    signed_by: User,
    contract_number: str,
    signed_on: datetime.date,
    contract_amount_fen: int | None = None,
    override_reason: str = "",
) -> Project:
    """Record the signed contract and announce ``contract_signed`` (referrals credit, lifecycle moves).

    The tenant's signing requirements must be met (``projects.services.signing``), or a manager
    overrides them with a reason. A project still in the sales stages moves to "contract signed";
    the move, and any override, are recorded in the history. Without ``contract_amount_fen`` the
    amount is the accepted quotation's total (a source registered in ``projects.extensions``).
    """
    if contract_amount_fen is None:
        contract_amount_fen = extensions.contract_amount_default(tenant=tenant, project=project)
        if contract_amount_fen is None:
            raise ValidationError(
                {
                    "contract_amount_fen": [
                        ValidationError(
                            _("请填写合同金额（该项目没有客户已接受的报价）。"),
                            code="contract_amount_required",
                        )
                    ]
                }
            )
    if (
        not isinstance(contract_amount_fen, int)
        or isinstance(contract_amount_fen, bool)
        or not 0 < contract_amount_fen <= MONEY_MAX
    ):
        raise ValidationError({"contract_amount_fen": _("合同金额必须大于 0。")})
    if not contract_number:
        raise ValidationError({"contract_number": _("请填写合同编号。")})
    project = _lock(project)
    if project.signed_on is not None:
        return project  # already signed: signing twice does nothing
    if project.cancelled_at is not None:
        raise ValidationError({"contract_number": _("该项目合同已取消，不能再次签约。")})
    if Project.objects.filter(contract_number=contract_number).exclude(pk=project.pk).exists():
        raise ValidationError(
            {"contract_number": _("合同编号 %(number)s 已被使用。") % {"number": contract_number}}
        )
    gate_note = signing.signing_gate(
        tenant=tenant, project=project, signed_by=signed_by, override_reason=override_reason
    )
    project.contract_number = contract_number
    project.contract_amount_fen = contract_amount_fen
    project.signed_on = signed_on
    fields = ["contract_number", "contract_amount_fen", "signed_on"]
    if stage_index(project.stage) < stage_index(Stage.CONTRACT_SIGNED):
        reason = f"合同签订；{gate_note}" if gate_note else "合同签订"
        _record_stage(project=project, to_stage=Stage.CONTRACT_SIGNED, by=signed_by, reason=reason)
        fields += ["stage", "stage_entered_at"]
    elif gate_note:
        StageHistory.objects.create(
            tenant=tenant,
            project=project,
            from_stage=project.stage,
            to_stage=project.stage,
            direction="override",
            reason=f"合同签订；{gate_note}",
            changed_by=signed_by,
        )
    try:
        with transaction.atomic():  # a concurrent sign with the same number loses here, as a 400
            project.save(update_fields=fields)
    except IntegrityError:
        raise ValidationError(
            {"contract_number": _("合同编号 %(number)s 已被使用。") % {"number": contract_number}}
        )
    events.publish(
        events.EventType.PROJECT_CONTRACT_SIGNED,
        tenant=tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
    )
    _apply_customer_facts(tenant=tenant, project=project, lifecycle="signed")
    return project


@transaction.atomic
def contract_cancel(*, tenant: Tenant, project: Project, cancelled_by: User, reason: str) -> Project:  # noqa: ARG001 - actor kept in the service signature
    """Cancel a signed contract and announce ``contract_cancelled`` (referrals reverse credit).

    Cancelling twice does nothing the second time; a handed-over project cannot be cancelled.
    """
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写取消原因。")})
    project = _lock(project)
    if project.cancelled_at is not None:
        return project
    if project.signed_on is None:
        raise ValidationError({"reason": _("项目尚未签约，无需取消合同。")})
    if project.handed_over_on is not None:
        raise ValidationError({"reason": _("项目已交付，不能取消合同。")})
    project.cancelled_at = timezone.now()
    project.cancel_reason = reason.strip()
    project.save(update_fields=["cancelled_at", "cancel_reason"])
    events.publish(
        events.EventType.PROJECT_CONTRACT_CANCELLED,
        tenant=tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
    )
    _apply_customer_facts(tenant=tenant, project=project, lifecycle=None)
    return project
