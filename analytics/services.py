"""Writes of the analytics app: managers set monthly sales targets and channel spend."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from analytics.models import SalesTarget
from crm.models import Role, Tenant, User
from crm.permissions import require_permission


def _error(field: str, message, code: str) -> ValidationError:
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
    if not user.has_role(Role.SALES):
        raise _error("user", _("只能为销售设置个人目标。"), "not_sales")


@transaction.atomic
def sales_target_save(
    *,
    tenant: Tenant,
    actor: User,
    user: User | None,
    month: datetime.date,
    contract_value: int = 0,
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
    target.contract_value, target.signed_count, target.new_customers = (
        contract_value,
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
