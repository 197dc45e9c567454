"""VIP decisions by a manager."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.permissions import require_permission
from referrals.models import (
    ReferralAccount,
    VipEvent,
    VipEventKind,
)
from referrals.services._common import _apply_customer_facts, _lock_account


@transaction.atomic
def referral_vip_decide(
    *, tenant: Tenant, account: ReferralAccount, keep: bool, reason: str, decided_by: User
) -> VipEvent:
    """A manager keeps or revokes VIP (typically after reversals dropped the count below the bar)."""
    require_permission(decided_by, "referrals.vip_decide")
    if not (reason or "").strip():
        raise ValidationError({"reason": _("请填写决定原因。")})
    account = _lock_account(account.pk)
    if not account.is_vip:
        raise ValidationError({"keep": _("该客户当前不是 VIP。")})
    if keep:
        account.vip_review_needed = False
    else:
        account.is_vip = False
        account.vip_since = None
        account.vip_review_needed = False
    account.save(update_fields=["is_vip", "vip_since", "vip_review_needed", "updated_at"])
    event = VipEvent.objects.create(
        tenant=tenant,
        account=account,
        kind=VipEventKind.KEPT if keep else VipEventKind.REVOKED,
        credited_referrals=account.credited_referrals,
        reason=reason.strip()[:200],
        decided_by=decided_by,
    )
    _apply_customer_facts(tenant=tenant, account=account)
    return event
