"""Writes for payment milestones: plans from contracts, stage triggers, change-order adjustments,
receipts (allocated to milestones in order) and voids, the template, the overdue scan.

Every write that reacts to an event is idempotent: a plan per project, a plan change per change
order, a trigger per milestone, a reminder per milestone — all backed by unique rows or markers.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.money import format_fen, split_fen
from crm.notifications.services import notify
from crm.permissions import require_permission
from crm.selectors import staff_of_tenant
from crm.tenancy import tenant_today
from crm.validators import MONEY_MAX
from payments.models import (
    SIGNING,
    PaymentAllocation,
    PaymentMethod,
    PaymentMilestone,
    PaymentPlan,
    PaymentPlanChange,
    PaymentReceipt,
    PaymentTemplateStep,
    PlanChangeKind,
)
from projects.models import ChangeOrder, ChangeOrderStatus, Project, Stage, stage_index
from referrals.models import LedgerEntry

RECEIVES_PAYMENT_ALERTS = "payments.receive_alerts"


@dataclass(frozen=True)
class Step:
    name: str
    share_bp: int
    trigger: str
    due_days: int = 7


# 首付 30% at signing, 中期款 40% once plumbing & electrical pass (the project enters 泥瓦),
# 尾款 30% at handover.
DEFAULT_STEPS = [
    Step("首付", 3000, SIGNING),
    Step("中期款", 4000, Stage.MASONRY),
    Step("尾款", 3000, Stage.HANDOVER),
]
TRIGGERS = [
    SIGNING,
    *[stage for stage in Stage.values if stage_index(stage) > stage_index(Stage.CONTRACT_SIGNED)],
]


def _error(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def template_steps(*, tenant: Tenant) -> list[Step]:  # noqa: ARG001 - rows are the request tenant's (RLS)
    """The tenant's template, or the default 30/40/30 plan when none was set."""
    rows = list(PaymentTemplateStep.objects.order_by("position"))
    if not rows:
        return list(DEFAULT_STEPS)
    return [Step(row.name, row.share_bp, row.trigger, row.due_days) for row in rows]


@transaction.atomic
def payment_template_set(*, tenant: Tenant, steps: list[Step], actor: User) -> list[Step]:
    """Replace the template (applies to contracts signed from now on). Shares must add up to 100%."""
    require_permission(actor, "payments.configure")
    if not 1 <= len(steps) <= 12:
        raise _error("steps", _("请设置 1 到 12 期。"), "invalid_step_count")
    if sum(step.share_bp for step in steps) != 10_000:
        raise _error("steps", _("各期比例之和须为 100%。"), "shares_not_100")
    for step in steps:
        if step.trigger not in TRIGGERS:
            raise _error(
                "steps", _("触发条件“%(trigger)s”无效。") % {"trigger": step.trigger[:32]}, "invalid_trigger"
            )
        if not step.name.strip() or step.share_bp <= 0:
            raise _error("steps", _("每期须有名称和大于 0 的比例。"), "invalid_step")
    PaymentTemplateStep.objects.all().delete()
    PaymentTemplateStep.objects.bulk_create(
        PaymentTemplateStep(
            tenant=tenant,
            position=position,
            name=step.name.strip()[:40],
            share_bp=step.share_bp,
            trigger=step.trigger,
            due_days=step.due_days,
        )
        for position, step in enumerate(steps, start=1)
    )
    return template_steps(tenant=tenant)


def _trigger(milestone: PaymentMilestone, *, tenant: Tenant, at: datetime.datetime) -> None:
    milestone.triggered_at = at
    milestone.due_on = at.astimezone(tenant.zoneinfo).date() + datetime.timedelta(days=milestone.due_days)


@transaction.atomic
def payment_plan_for_project(*, tenant: Tenant, project_id: int) -> PaymentPlan | None:
    """The signed project's plan, created once from the template (an event handler: safe to repeat)."""
    project = Project.objects.select_for_update().filter(pk=project_id).first()
    if project is None or project.signed_on is None or not project.contract_amount_fen:
        return None
    existing = PaymentPlan.objects.filter(project=project).first()
    if existing is not None:
        return existing
    steps = template_steps(tenant=tenant)
    amounts = split_fen(project.contract_amount_fen, [step.share_bp for step in steps])
    plan = PaymentPlan.objects.create(
        tenant=tenant,
        project=project,
        customer_id=project.customer_id,
        contract_amount_fen=project.contract_amount_fen,
    )
    now = timezone.now()
    for position, (step, amount) in enumerate(zip(steps, amounts, strict=True), start=1):
        milestone = PaymentMilestone(
            tenant=tenant,
            plan=plan,
            position=position,
            name=step.name,
            share_bp=step.share_bp,
            amount_fen=amount,
            trigger=step.trigger,
            due_days=step.due_days,
        )
        if step.trigger == SIGNING or stage_index(project.stage) >= stage_index(step.trigger):
            _trigger(milestone, tenant=tenant, at=now)
        milestone.save()
    PaymentPlanChange.objects.create(
        tenant=tenant,
        plan=plan,
        kind=PlanChangeKind.CREATED,
        delta_fen=plan.contract_amount_fen,
        note=_("合同 %(number)s") % {"number": project.contract_number},
    )
    return plan


def _allocated(milestone_ids: list[int]) -> dict[int, int]:
    rows = (
        PaymentAllocation.objects.filter(milestone_id__in=milestone_ids)
        .values("milestone_id")
        .annotate(total=Sum("amount_fen"))
    )
    return {row["milestone_id"]: row["total"] for row in rows}


def _alert_recipients(*, tenant: Tenant, project: Project, roster: list[User] | None = None) -> list[User]:
    """Finance (the duty roster, read once per scan when ``roster`` is passed) and the customer's owner."""
    if roster is None:
        roster = staff_of_tenant(tenant=tenant, duty=RECEIVES_PAYMENT_ALERTS)
    recipients = {user.pk: user for user in roster}
    owner = project.customer.owner if project.customer_id else None
    if owner is not None and owner.is_active:
        recipients[owner.pk] = owner
    return list(recipients.values())


@transaction.atomic
def payment_milestones_trigger(*, tenant: Tenant, project_id: int, stage: str) -> int:
    """The project reached ``stage``: its milestones waiting for it fall due; the owner and finance are
    told once per milestone if the money has not arrived. Returns how many milestones fell due."""
    plan = (
        PaymentPlan.objects.select_for_update(of=("self",))
        .select_related("project__customer__owner")
        .filter(project_id=project_id)
        .first()
    )
    if plan is None:
        return 0
    waiting = [
        milestone
        for milestone in plan.milestones.filter(triggered_at__isnull=True)
        if stage_index(stage) >= stage_index(milestone.trigger)
    ]
    if not waiting:
        return 0
    now = timezone.now()
    paid = _allocated([milestone.pk for milestone in waiting])
    for milestone in waiting:
        _trigger(milestone, tenant=tenant, at=now)
        outstanding = milestone.amount_fen - paid.get(milestone.pk, 0)
        if outstanding > 0:
            notify(
                tenant=tenant,
                recipients=_alert_recipients(tenant=tenant, project=plan.project),
                kind="payment_due",
                title=_("%(project)s：%(name)s %(amount)s 到期，请跟进回款")
                % {"project": plan.project.name, "name": milestone.name, "amount": format_fen(outstanding)},
                body=_("应于 %(date)s 前付清。") % {"date": f"{milestone.due_on:%Y-%m-%d}"},
                link=f"/payments/{plan.pk}/",
                dedupe_key=f"payments:due:{milestone.pk}",
            )
            milestone.due_reminded_at = now
        milestone.save(update_fields=["triggered_at", "due_on", "due_reminded_at"])
    return len(waiting)


@transaction.atomic
def payment_plan_apply_change_order(*, tenant: Tenant, change_order_id: int) -> PaymentPlanChange | None:
    """An approved change order moves the plan by its amount, once.

    An increase goes to the last instalment (settled with the final payment, as is usual); a
    decrease comes off the unpaid part of the instalments from the last one back, so money already
    received is never "un-received"; anything left over shows as an overpayment (应退) on the plan.
    """
    change_order = ChangeOrder.objects.filter(pk=change_order_id).first()
    if (
        change_order is None
        or change_order.status != ChangeOrderStatus.APPROVED
        or not change_order.amount_delta_fen
    ):
        return None
    plan = PaymentPlan.objects.select_for_update().filter(project_id=change_order.project_id).first()
    if plan is None:
        return None
    if PaymentPlanChange.objects.filter(change_order=change_order).exists():
        return None
    delta = change_order.amount_delta_fen
    milestones = list(plan.milestones.select_for_update().order_by("position"))
    if delta > 0:
        milestones[-1].amount_fen += delta
        milestones[-1].save(update_fields=["amount_fen"])
    else:
        paid = _allocated([milestone.pk for milestone in milestones])
        remaining = -delta
        for milestone in reversed(milestones):
            take = min(remaining, max(milestone.amount_fen - paid.get(milestone.pk, 0), 0))
            if take:
                milestone.amount_fen -= take
                milestone.save(update_fields=["amount_fen"])
                remaining -= take
        if remaining:
            milestones[-1].amount_fen -= remaining
            milestones[-1].save(update_fields=["amount_fen"])
    plan.adjustments_fen += delta
    plan.save(update_fields=["adjustments_fen", "updated_at"])
    # unique per change order: with the plan locked above, a repeat found the row and returned
    return PaymentPlanChange.objects.create(
        tenant=tenant,
        plan=plan,
        kind=PlanChangeKind.CHANGE_ORDER,
        change_order=change_order,
        delta_fen=delta,
        note=change_order.title[:200],
    )


def _validate_amount(amount_fen: object) -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= MONEY_MAX:
        raise _error("amount_fen", _("金额须大于 0（单位：分）。"), "invalid_amount")
    return amount_fen


@transaction.atomic
def payment_receipt_record(
    *,
    tenant: Tenant,
    plan: PaymentPlan,
    amount_fen: int,
    method: str,
    received_on: datetime.date,
    recorded_by: User,
    receipt_number: str = "",
    note: str = "",
    milestone: PaymentMilestone | None = None,
) -> PaymentReceipt:
    """Record money received and allocate it to milestones (the chosen one first, then in order).

    Never more than what is outstanding on the plan (read under the plan's lock, so two clerks
    recording the last instalment at once cannot both succeed). Paying with the referral fund
    (装修基金) redeems the customer's credit through the ledger in the same transaction.
    """
    require_permission(recorded_by, "payments.record")
    amount_fen = _validate_amount(amount_fen)
    if method not in PaymentMethod.values:
        raise _error("method", _("请选择收款方式。"), "invalid_method")
    if received_on > tenant_today(tenant):
        raise _error("received_on", _("收款日期不能晚于今天。"), "in_future")
    receipt_number = (receipt_number or "").strip()
    plan = PaymentPlan.objects.select_for_update(of=("self",)).select_related("project").get(pk=plan.pk)
    if milestone is not None and milestone.plan_id != plan.pk:
        raise _error("milestone", _("收款节点不属于该计划。"), "milestone_not_of_plan")
    if receipt_number and PaymentReceipt.objects.filter(receipt_number=receipt_number).exists():
        raise _error(
            "receipt_number",
            _("收据号 %(number)s 已登记。") % {"number": receipt_number},
            "duplicate_receipt",
        )
    milestones = list(plan.milestones.order_by("position"))
    paid = _allocated([m.pk for m in milestones])
    outstanding = sum(m.amount_fen for m in milestones) - sum(paid.values())
    if amount_fen > outstanding:
        raise _error(
            "amount_fen",
            _("金额超过未收金额 %(outstanding)s。") % {"outstanding": format_fen(max(outstanding, 0))},
            "exceeds_outstanding",
        )
    receipt = PaymentReceipt.objects.create(
        tenant=tenant,
        plan=plan,
        amount_fen=amount_fen,
        method=method,
        received_on=received_on,
        receipt_number=receipt_number,
        note=(note or "").strip()[:200],
        recorded_by=recorded_by,
    )
    if method == PaymentMethod.REFERRAL_FUND:
        receipt.ledger_entry = _redeem_referral_fund(
            tenant=tenant, plan=plan, receipt=receipt, by=recorded_by
        )
        receipt.save(update_fields=["ledger_entry"])
    order = sorted(milestones, key=lambda m: (milestone is None or m.pk != milestone.pk, m.position))
    remaining = amount_fen
    for target in order:
        take = min(remaining, max(target.amount_fen - paid.get(target.pk, 0), 0))
        if take:
            PaymentAllocation.objects.create(
                tenant=tenant, receipt=receipt, milestone=target, amount_fen=take
            )
            remaining -= take
        if not remaining:
            break
    plan.save(update_fields=["updated_at"])
    return receipt


def _redeem_referral_fund(
    *, tenant: Tenant, plan: PaymentPlan, receipt: PaymentReceipt, by: User
) -> LedgerEntry:
    from referrals.models import RedemptionTarget, ReferralAccount
    from referrals.services.ledger import referral_redeem

    account = ReferralAccount.objects.filter(customer_id=plan.customer_id).first()
    if account is None:
        raise _error("method", _("该客户没有装修基金账户。"), "no_referral_account")
    return referral_redeem(
        tenant=tenant,
        account=account,
        amount_fen=receipt.amount_fen,
        target=RedemptionTarget.CONTRACT_PAYMENT,
        description=_("抵扣工程款（项目 %(project)s）") % {"project": plan.project.name},
        redeemed_by=by,
        project=plan.project,
        client_key=f"payment-receipt:{receipt.pk}",
    )


@transaction.atomic
def payment_receipt_void(
    *, tenant: Tenant, receipt: PaymentReceipt, voided_by: User, reason: str
) -> PaymentReceipt:
    """Void a mistaken receipt (kept, marked, with a reason); its allocation is released.
    A referral-fund payment gives the credit back through a ledger adjustment."""
    require_permission(voided_by, "payments.record")
    if not (reason or "").strip():
        raise _error("reason", _("请填写作废原因。"), "reason_required")
    receipt = PaymentReceipt.objects.select_for_update().get(pk=receipt.pk)
    if receipt.voided_at is not None:
        raise _error("receipt", _("该收款已作废。"), "already_voided")
    PaymentPlan.objects.select_for_update().filter(pk=receipt.plan_id).first()
    if receipt.method == PaymentMethod.REFERRAL_FUND and receipt.ledger_entry_id:
        from referrals.models import ReferralAccount
        from referrals.services.ledger import referral_adjust

        account = ReferralAccount.objects.get(entries__pk=receipt.ledger_entry_id)
        referral_adjust(
            tenant=tenant,
            account=account,
            amount_fen=receipt.amount_fen,
            reason=_("收款作废，退回装修基金：%(reason)s") % {"reason": reason.strip()[:100]},
            adjusted_by=voided_by,
            client_key=f"payment-receipt-void:{receipt.pk}",
        )
    receipt.allocations.all().delete()
    receipt.voided_at = timezone.now()
    receipt.voided_by = voided_by
    receipt.void_reason = reason.strip()[:200]
    receipt.save(update_fields=["voided_at", "voided_by", "void_reason", "updated_at"])
    PaymentPlan.objects.filter(pk=receipt.plan_id).update(updated_at=timezone.now())
    return receipt


def payments_overdue_scan(*, tenant: Tenant, today: datetime.date | None = None) -> int:
    """Tell the owner and finance once about each milestone past its due date with money outstanding.

    Reads only milestones due before today that were never reported (partial index); a milestone
    found fully paid is marked too, so each one is looked at once: cost follows due work, not history.
    """
    today = today or tenant_today(tenant)
    due = list(
        PaymentMilestone.objects.select_related("plan__project__customer__owner")
        .filter(due_on__lt=today, overdue_reminded_at__isnull=True)
        .order_by("due_on", "id")[:500]
    )
    if not due:
        return 0
    paid = _allocated([milestone.pk for milestone in due])
    roster = staff_of_tenant(tenant=tenant, duty=RECEIVES_PAYMENT_ALERTS)
    now = timezone.now()
    told = 0
    for milestone in due:
        outstanding = milestone.amount_fen - paid.get(milestone.pk, 0)
        if outstanding > 0:
            project = milestone.plan.project
            with transaction.atomic():
                notify(
                    tenant=tenant,
                    recipients=_alert_recipients(tenant=tenant, project=project, roster=roster),
                    kind="payment_overdue",
                    title=_("%(project)s：%(name)s 逾期未付 %(amount)s")
                    % {"project": project.name, "name": milestone.name, "amount": format_fen(outstanding)},
                    body=_("应付日期 %(date)s。") % {"date": f"{milestone.due_on:%Y-%m-%d}"},
                    link=f"/payments/{milestone.plan_id}/",
                    dedupe_key=f"payments:overdue:{milestone.pk}",
                )
                PaymentMilestone.objects.filter(pk=milestone.pk).update(overdue_reminded_at=now)
            told += 1
        else:
            PaymentMilestone.objects.filter(pk=milestone.pk).update(overdue_reminded_at=now)
    return told
