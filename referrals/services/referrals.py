"""Who referred whom: create, link by code, manual status changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.permissions import require_permission
from customers.models import Customer
from projects.models import Project
from referrals.models import (
    Referral,
    ReferralSource,
    ReferralStatus,
)
from referrals.selectors import referrer_for_code
from referrals.services._common import _lock_account, _lock_referral
from referrals.services.accounts import referral_account_ensure
from referrals.services.ledger import referral_credit_for_contract

if TYPE_CHECKING:
    from django.db.models import QuerySet


@transaction.atomic
def referral_create(
    *,
    tenant: Tenant,
    referrer: Customer,
    referred: Customer,
    source: str,
    created_by: User | None = None,
    note: str = "",
) -> Referral:
    """Record that ``referrer`` brought in ``referred``; the same pair again is a no-op.

    A second (different) referrer, a self-referral or another tenant's customer is refused.
    """
    if referrer.tenant_id != tenant.pk or referred.tenant_id != tenant.pk:
        raise ValidationError({"referrer": _("推荐人不存在。")})
    if referrer.pk == referred.pk:
        raise ValidationError({"referred": _("客户不能推荐自己。")})
    if source not in ReferralSource.values:
        raise ValidationError({"source": _("来源无效。")})
    account = referral_account_ensure(tenant=tenant, customer=referrer)
    _lock_account(account.pk)
    existing = Referral.objects.filter(referred=referred).select_related("referrer").first()
    if existing is not None:
        if existing.referrer_id == referrer.pk:
            return existing
        raise ValidationError(
            {
                "referred": _("该客户已由“%(name)s”推荐，一个客户只能有一个推荐人。")
                % {"name": existing.referrer.name}
            }
        )
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                tenant=tenant,
                referrer=referrer,
                referred=referred,
                source=source,
                created_by=created_by,
                note=note[:200],
            )
    except IntegrityError:  # another referrer won a race for this customer
        raise ValidationError({"referred": _("该客户已有推荐人，一个客户只能有一个推荐人。")})
    signed = _signed_projects(customer_id=referred.pk).first() if source == ReferralSource.MANUAL else None
    if signed is not None:
        # Staff linked the referrer after the contract was signed ("a friend sent me", said at
        # signing): the contract_signed event has passed, so credit now, same rule, same key.
        # Only for staff links (logged with created_by); a code on a later lead of an already
        # signed customer did not bring that contract in.
        referral_credit_for_contract(tenant=tenant, project_id=signed.pk)
        referral.refresh_from_db()
    return referral


def _signed_projects(*, customer_id: int) -> QuerySet[Project]:
    projects = Project.objects.filter(customer_id=customer_id, signed_on__isnull=False)
    if any(field.name == "cancelled_at" for field in Project._meta.get_fields()):
        projects = projects.filter(cancelled_at__isnull=True)
    return projects.order_by("signed_on", "pk")


@transaction.atomic
def referral_link_by_code(
    *, tenant: Tenant, referred: Customer, code: str, created_by: User, note: str = ""
) -> Referral:
    """Staff link by hand: the referrer is found by their code (or phone) within this tenant only."""
    require_permission(created_by, "referrals.edit")
    value = (code or "").strip()
    if not value:
        raise ValidationError({"code": _("请输入推荐人的推荐码或手机号。")})
    referrer = referrer_for_code(value)
    if referrer is None:
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) >= 11:
            referrer = Customer.objects.filter(phone__endswith=digits[-11:]).first()
    if referrer is None:
        raise ValidationError({"code": _("找不到该推荐码或手机号对应的客户。")})
    return referral_create(
        tenant=tenant,
        referrer=referrer,
        referred=referred,
        source=ReferralSource.MANUAL,
        created_by=created_by,
        note=note,
    )


MANUAL_TRANSITIONS: dict[str, set[str]] = {
    ReferralStatus.REFERRED: {ReferralStatus.CONTACTED, ReferralStatus.LOST},
    ReferralStatus.CONTACTED: {ReferralStatus.LOST},
    ReferralStatus.LOST: {ReferralStatus.CONTACTED},
}


@transaction.atomic
def referral_status_set(*, tenant: Tenant, referral: Referral, status: str, changed_by: User) -> Referral:
    """Staff move a referral to contacted or lost; signed/credited/cancelled come from contracts only."""
    require_permission(changed_by, "referrals.edit")
    account = referral_account_ensure(tenant=tenant, customer=referral.referrer)
    _lock_account(account.pk)
    referral = _lock_referral(referral.pk)
    if status not in MANUAL_TRANSITIONS.get(referral.status, set()):
        raise ValidationError(
            {
                "status": _("不能从“%(status)s”改为该状态（签约和奖励由合同自动驱动）。")
                % {"status": referral.get_status_display()}
            }
        )
    now = timezone.now()
    referral.status = status
    if status == ReferralStatus.CONTACTED:
        referral.contacted_at = referral.contacted_at or now
        referral.closed_at = None
    else:
        referral.closed_at = now
    referral.save(update_fields=["status", "contacted_at", "closed_at", "updated_at"])
    return referral
