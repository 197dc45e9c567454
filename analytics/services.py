"""Writes of the analytics app: managers set monthly sales targets and channel spend."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from analytics.models import SalesTarget
from crm.models import Tenant, User
from crm.permissions import SELLS, has_duty, require_permission


def _error(field: str, message: StrOrPromise, code: str) -> ValidationError:
    return ValidationError({field: ValidationError(message, code=code)})


def _month(value: datetime.date) -> datetime.date:
    if value.day != 1:
        raise ValidationError(
            {"month": ValidationError(_("月份请填写该月第一天（如 2025-03-01）。"), code="invalid_month")}
        )
    return value


def _check_user(tenant: Tenant, user: User | None) -> None:
    if user is None:
        return
    if user.tenant_id != tenant.pk:
        raise _error("user", _("员工不存在。"), "does_not_exist")
    if not has_duty(user, SELLS):
        raise _error("user", _("只能为销售设置个人目标。"), "not_sales")


@transaction.atomic
def sales_target_save(
    *,
    tenant: Tenant,
    actor: User,
    user: User | None,
    month: datetime.date,
    contract_value_fen: int = 0,
    signed_count: int = 0,
    new_customers: int = 0,
    target: SalesTarget | None = None,
) -> SalesTarget:
    """Create (or, given ``target``, update) one month's target of a sales user or the team."""
    require_permission(actor, "analytics.manage_targets")
    _check_user(tenant, user)
    month = _month(month)
    target = target or SalesTarget(tenant=tenant)
    target.user, target.month = user, month
    target.contract_value_fen, target.signed_count, target.new_customers = (
        contract_value_fen,
        signed_count,
        new_customers,
    )
    target.updated_by = actor
    try:
        with transaction.atomic():
            target.save()
    except IntegrityError:
        raise ValidationError(
            {"month": ValidationError(_("该月的目标已存在，请修改原目标。"), code="duplicate")}
        )
    return target


@transaction.atomic
def sales_target_delete(*, tenant: Tenant, actor: User, target: SalesTarget) -> None:
    require_permission(actor, "analytics.manage_targets")
    target.delete()


@transaction.atomic
def channel_spend_save(
    *, tenant: Tenant, actor: User, channel: str, month: datetime.date, amount_fen: int
) -> None:
    """Set (create or replace) one channel's spend for one month."""
    from analytics.models import ChannelSpend
    from customers.models import SourceChannel

    require_permission(actor, "analytics.manage_targets")
    if channel not in SourceChannel.values:
        raise _error("channel", _("未知的来源渠道。"), "invalid_channel")
    if amount_fen < 0:
        raise _error("amount_fen", _("金额不能为负数。"), "negative")
    ChannelSpend.objects.update_or_create(
        channel=channel, month=_month(month), defaults={"tenant": tenant, "amount_fen": amount_fen}
    )


@transaction.atomic
def monthly_plan_save(
    *,
    tenant: Tenant,
    actor: User,
    month: datetime.date,
    targets: dict[User | None, dict[str, int]],
    spend: dict[str, int | None],
) -> None:
    """The managers' monthly page in one transaction: each user's (and the team's) target and each
    channel's spend. A target given as all zeros/blank is removed; a blank spend is removed."""
    from analytics.models import ChannelSpend

    require_permission(actor, "analytics.manage_targets")
    month = _month(month)
    existing = {target.user_id: target for target in SalesTarget.objects.filter(month=month)}
    for user, values in targets.items():
        target = existing.get(user.pk if user else None)
        if not any(values.values()):
            if target is not None:
                target.delete()
            continue
        sales_target_save(tenant=tenant, actor=actor, user=user, month=month, target=target, **values)
    for channel, amount_fen in spend.items():
        if amount_fen is None:
            ChannelSpend.objects.filter(channel=channel, month=month).delete()
        else:
            channel_spend_save(
                tenant=tenant, actor=actor, channel=channel, month=month, amount_fen=amount_fen
            )
