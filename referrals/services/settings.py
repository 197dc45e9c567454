"""Per-tenant referral settings (the credit rule)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from crm.permissions import require_permission
from referrals.models import (
    CreditRuleKind,
    ReferralSettings,
)
from referrals.services._common import MAX_AMOUNT_FEN


def referral_settings_get(*, tenant: Tenant) -> ReferralSettings:
    """The tenant's rule, or the (unsaved) default: ¥1,000 per signed referral, VIP at 3."""
    return ReferralSettings.objects.filter().first() or ReferralSettings(tenant=tenant)


@transaction.atomic
def referral_settings_update(
    *,
    tenant: Tenant,
    updated_by: User,
    rule_kind: str,
    fixed_amount_fen: int,
    percentage_bp: int,
    cap_fen: int | None,
    vip_threshold: int,
    vip_title: str = "VIP 设计顾问",
) -> ReferralSettings:
    """Managers set the rule; it applies to credits earned from now on (past entries never change)."""
    require_permission(updated_by, "referrals.settings")
    errors: dict[str, str] = {}
    if rule_kind not in CreditRuleKind.values:
        errors["rule_kind"] = _("请选择奖励规则。")
    if rule_kind == CreditRuleKind.FIXED and not (0 < fixed_amount_fen <= MAX_AMOUNT_FEN):
        errors["fixed_amount_fen"] = _("固定奖励必须大于 0。")
    if percentage_bp > 10_000 or (rule_kind == CreditRuleKind.PERCENTAGE and percentage_bp <= 0):
        errors["percentage_bp"] = _("比例必须在 0.01% 到 100% 之间。")
    if cap_fen is not None and not (0 < cap_fen <= MAX_AMOUNT_FEN):
        errors["cap_fen"] = _("上限必须大于 0（不设上限请留空）。")
    if not (1 <= vip_threshold <= 100):
        errors["vip_threshold"] = _("VIP 门槛必须在 1 到 100 之间。")
    if not vip_title.strip():
        errors["vip_title"] = _("请填写 VIP 称号。")
    if errors:
        raise ValidationError(errors)
    rule = ReferralSettings.objects.select_for_update(of=("self",)).first() or ReferralSettings(tenant=tenant)
    rule.rule_kind = rule_kind
    rule.fixed_amount_fen = fixed_amount_fen
    rule.percentage_bp = percentage_bp
    rule.cap_fen = cap_fen
    rule.vip_threshold = vip_threshold
    rule.vip_title = vip_title.strip()
    rule.updated_by = updated_by
    rule.save()
    return rule
