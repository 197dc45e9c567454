"""Change orders (lines, send, customer decision) and the project budget they move."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Tenant, User
from crm.money import fen_times
from crm.validators import MONEY_MAX
from projects.models import (
    ChangeOrder,
    ChangeOrderEvent,
    ChangeOrderLine,
    ChangeOrderStatus,
    DecisionChannel,
    Project,
)
from projects.services._common import _lock


def _unit_price_fen(value: object) -> int:
    """A unit price in whole fen (negative for a deduction): ``12.5`` fen or ``True`` is no price."""
    if isinstance(value, bool | float):
        raise ValueError(value)
    if isinstance(value, str):
        value = value.strip()
    fen = int(value)  # type: ignore[call-overload]
    if abs(fen) > MONEY_MAX:
        raise ValueError(value)
    return fen


def _write_lines(change_order: ChangeOrder, lines: list[dict]) -> None:
    if not lines:
        raise ValidationError({"lines": _("变更单至少需要一个明细项。")})
    change_order.lines.all().delete()
    total = 0
    for number, line in enumerate(lines, start=1):
        try:
            quantity = Decimal(str(line.get("quantity")))
            unit_price_fen = _unit_price_fen(line["unit_price_fen"])
        except (InvalidOperation, KeyError, TypeError, ValueError):
            raise ValidationError(
                {"lines": _("第 %(number)s 行的数量或单价不是数字。") % {"number": number}}
            ) from None
        if not quantity.is_finite() or quantity <= 0:
            raise ValidationError({"lines": _("数量必须大于 0（减项请填写负单价）。")})
        if not (line.get("description") or "").strip():
            raise ValidationError({"lines": _("请填写明细项名称。")})
        row = ChangeOrderLine(
            tenant_id=change_order.tenant_id,
            change_order=change_order,
            description=line["description"].strip(),
            quantity=quantity,
            unit=line.get("unit", ""),
            unit_price_fen=unit_price_fen,
            amount_fen=fen_times(unit_price_fen, quantity),
        )
        try:
            # the DB would round a 3rd decimal of the quantity (not the amount) or fail on lengths
            row.full_clean(exclude=["tenant", "change_order"])
        except ValidationError as error:
            raise ValidationError(
                {
                    "lines": [
                        _("第 %(number)s 行：%(message)s") % {"number": number, "message": m}
                        for m in error.messages
                    ]
                }
            ) from None
        row.save()
        total += row.amount_fen
    change_order.amount_delta_fen = total


def _log(
    change_order: ChangeOrder, action: str, actor: User | None, channel: str = "", note: str = ""
) -> None:
    ChangeOrderEvent.objects.create(
        tenant_id=change_order.tenant_id,
        change_order=change_order,
        action=action,
        actor=actor,
        channel=channel,
        note=note,
    )


@transaction.atomic
def change_order_create(
    *, tenant: Tenant, project: Project, created_by: User, title: str, reason: str, lines: list[dict]
) -> ChangeOrder:
    project = _lock(project)
    if project.signed_on is None:
        raise ValidationError({"project": _("项目尚未签约，不能创建变更单。")})
    _refuse_if_cancelled(project)
    if not (title or "").strip():
        raise ValidationError({"title": _("请填写变更标题。")})
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写变更原因。")})
    number = (
        ChangeOrder.objects.filter(project=project)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
        or 0
    ) + 1
    change_order = ChangeOrder(
        tenant=tenant,
        project=project,
        number=number,
        title=title.strip(),
        reason=reason.strip(),
        created_by=created_by,
    )
    change_order.save()
    _write_lines(change_order, lines)
    change_order.save(update_fields=["amount_delta_fen"])
    _log(change_order, "created", created_by)
    return change_order


def _lock_change_order(change_order: ChangeOrder) -> ChangeOrder:
    return ChangeOrder.objects.select_for_update(of=("self",)).get(pk=change_order.pk)


def _refuse_if_cancelled(project: Project) -> None:
    """A cancelled contract's budget is final: no new, sent or decided change orders."""
    if project.cancelled_at is not None:
        raise ValidationError({"status": _("合同已取消，不能再处理变更单。")})


@transaction.atomic
def change_order_update(
    *,
    tenant: Tenant,
    change_order: ChangeOrder,
    updated_by: User,
    title: str | None = None,
    reason: str | None = None,
    lines: list[dict] | None = None,
) -> ChangeOrder:
    """Only a draft can be edited; what the customer was shown never changes under them."""
    change_order = _lock_change_order(change_order)
    if change_order.status != ChangeOrderStatus.DRAFT:
        raise ValidationError({"status": _("只有草稿状态的变更单可以修改。")})
    if title is not None:
        change_order.title = title.strip()
    if reason is not None:
        change_order.reason = reason.strip()
    if lines is not None:
        _write_lines(change_order, lines)
    change_order.save()
    _log(change_order, "edited", updated_by)
    return change_order


@transaction.atomic
def change_order_send(*, tenant: Tenant, change_order: ChangeOrder, sent_by: User) -> ChangeOrder:
    change_order = _lock_change_order(change_order)
    if change_order.status != ChangeOrderStatus.DRAFT:
        raise ValidationError({"status": _("只有草稿可以发送给客户确认。")})
    _refuse_if_cancelled(_lock(change_order.project))
    change_order.status = ChangeOrderStatus.SENT
    change_order.sent_at = timezone.now()
    change_order.save(update_fields=["status", "sent_at"])
    _log(change_order, "sent", sent_by)
    return change_order


@transaction.atomic
def change_order_decide(
    *,
    tenant: Tenant,
    change_order: ChangeOrder,
    approve: bool,
    channel: str,
    decided_by: User | None = None,
    note: str = "",
) -> ChangeOrder:
    """Approve or reject a sent change order (once; a decided order is immutable).

    ``decided_by`` is the staff member acting for the customer, or None when the customer
    decided on the progress page (channel ``customer_link``).
    """
    if channel not in DecisionChannel.values:
        raise ValidationError({"channel": _("请选择确认方式。")})
    if channel != DecisionChannel.CUSTOMER_LINK and decided_by is None:
        raise ValidationError({"channel": _("员工代客户确认时必须记录操作人。")})
    change_order = _lock_change_order(change_order)
    if change_order.is_decided:
        raise ValidationError(
            {
                "status": _("变更单已%(status)s，不能再次确认。")
                % {"status": change_order.get_status_display()}
            }
        )
    if change_order.status != ChangeOrderStatus.SENT:
        raise ValidationError({"status": _("变更单尚未发送给客户。")})
    _refuse_if_cancelled(_lock(change_order.project))  # locked: a concurrent cancel waits or wins
    change_order.status = ChangeOrderStatus.APPROVED if approve else ChangeOrderStatus.REJECTED
    change_order.decided_at = timezone.now()
    change_order.decided_by = decided_by
    change_order.decision_channel = channel
    change_order.decision_note = note
    change_order.save(
        update_fields=["status", "decided_at", "decided_by", "decision_channel", "decision_note"]
    )
    _log(change_order, change_order.status, decided_by, channel=channel, note=note)
    events.publish(
        events.EventType.CHANGE_ORDER_DECIDED,
        tenant=tenant,
        change_order_id=change_order.pk,
        project_id=change_order.project_id,
        status=change_order.status,
    )
    return change_order


def project_budget(*, project: Project) -> int:
    """Current budget = contract amount + the deltas of approved change orders."""
    approved = ChangeOrder.objects.filter(project=project, status=ChangeOrderStatus.APPROVED).aggregate(
        total=Sum("amount_delta_fen")
    )["total"]
    return (project.contract_amount_fen or 0) + (approved or 0)
