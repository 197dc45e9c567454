"""The append-only ledger: credit and reverse on contract events, redeem, adjust."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Tenant, User
from crm.money import format_fen_number
from crm.permissions import require_permission
from customers.models import Customer
from projects.models import Project
from referrals.models import (
    CreditRuleKind,
    EntryKind,
    LedgerEntry,
    RedemptionTarget,
    Referral,
    ReferralAccount,
    ReferralSettings,
    ReferralStatus,
    VipEvent,
    VipEventKind,
)
from referrals.services._common import MAX_AMOUNT_FEN, _apply_customer_facts, _lock_account, _lock_referral
from referrals.services.accounts import referral_account_ensure
from referrals.services.settings import referral_settings_get

logger = logging.getLogger("referrals")


def credit_amount_fen(*, rule: ReferralSettings, contract_amount_fen: int | None) -> int:
    """Integer arithmetic only: a percentage rounds down to the fen, then the cap applies."""
    if rule.rule_kind == CreditRuleKind.FIXED:
        amount = int(rule.fixed_amount_fen)
    else:
        amount = int(contract_amount_fen or 0) * int(rule.percentage_bp) // 10_000
    if rule.cap_fen is not None:
        amount = min(amount, int(rule.cap_fen))
    return max(amount, 0)


def _append_entry(
    *,
    tenant: Tenant,
    account: ReferralAccount,
    kind: str,
    amount_fen: int,
    idempotency_key: str,
    shortfall_change_fen: int = 0,
    **fields: Any,
) -> LedgerEntry:
    """Write one entry and move the cached balance. Caller holds the account lock (``_lock_account``)."""
    new_balance = account.balance_fen + amount_fen
    new_shortfall = account.shortfall_fen + shortfall_change_fen
    if new_balance < 0 or new_shortfall < 0:  # the CHECK constraints would refuse it anyway
        raise ValidationError({"amount_fen": _("余额不足。")})
    entry = LedgerEntry.objects.create(
        tenant=tenant,
        account=account,
        kind=kind,
        amount_fen=amount_fen,
        balance_after_fen=new_balance,
        shortfall_change_fen=shortfall_change_fen,
        idempotency_key=idempotency_key,
        **fields,
    )
    account.balance_fen = new_balance
    account.shortfall_fen = new_shortfall
    account.save(update_fields=["balance_fen", "shortfall_fen", "updated_at"])
    return entry


def _entry_exists(idempotency_key: str) -> LedgerEntry | None:
    return LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()


def _project_is_cancelled(project: Project) -> bool:
    return getattr(project, "cancelled_at", None) is not None


@transaction.atomic
def referral_credit_for_contract(*, tenant: Tenant, project_id: int) -> LedgerEntry | None:
    """The referred customer signed: credit the referrer once (per referral), per the tenant's rule.

    Runs from the ``contract_signed`` event; processed twice or fifty times at once it credits once:
    the account lock serialises the writers and the idempotency key catches anything else.
    """
    project = Project.objects.filter(pk=project_id).first()
    if project is None or project.signed_on is None or _project_is_cancelled(project):
        return None
    found = Referral.objects.filter(referred_id=project.customer_id).select_related("referrer").first()
    if found is None or found.status == ReferralStatus.CREDITED:
        return None  # unlocked fast path for replays; a stale read just takes the locked path below
    account = _lock_account(referral_account_ensure(tenant=tenant, customer=found.referrer).pk)
    referral = _lock_referral(found.pk)
    if referral.status == ReferralStatus.CREDITED:
        return None  # already rewarded for this referred customer
    key = f"credit:referral:{referral.pk}:project:{project.pk}"
    if _entry_exists(key) is not None:
        return None
    rule = referral_settings_get(tenant=tenant)
    amount = credit_amount_fen(rule=rule, contract_amount_fen=project.contract_amount_fen)
    now = timezone.now()
    referral.status = ReferralStatus.SIGNED
    referral.signed_at = now
    referral.signed_project = project
    referral.closed_at = None
    if amount <= 0:
        referral.save(update_fields=["status", "signed_at", "signed_project", "closed_at", "updated_at"])
        logger.warning("referral %s signed but the credit rule gives 0", referral.pk)
        return None
    referred_name = Customer.objects.filter(pk=referral.referred_id).values_list("name", flat=True).first()
    entry = _append_entry(
        tenant=tenant,
        account=account,
        kind=EntryKind.CREDIT,
        amount_fen=amount,
        idempotency_key=key,
        referral=referral,
        project=project,
        description=f"推荐 {referred_name} 签约（合同 {project.contract_number or project.pk}）",
    )
    referral.status = ReferralStatus.CREDITED
    referral.credited_at = now
    referral.save(
        update_fields=["status", "signed_at", "signed_project", "closed_at", "credited_at", "updated_at"]
    )
    _recover_shortfall(tenant=tenant, account=account, credit=entry)
    account.credited_referrals += 1
    _grant_vip_if_earned(tenant=tenant, account=account, rule=rule)
    account.save(
        update_fields=["credited_referrals", "is_vip", "vip_since", "vip_review_needed", "updated_at"]
    )
    _apply_customer_facts(tenant=tenant, account=account)
    events.publish(
        events.EventType.REFERRAL_CREDITED,
        tenant=tenant,
        referral_id=referral.pk,
        customer_id=account.customer_id,
        amount_fen=amount,
    )
    return entry


def _recover_shortfall(*, tenant: Tenant, account: ReferralAccount, credit: LedgerEntry) -> None:
    """An earlier reversal could not take its full amount back: recover it from the new credit."""
    recover = min(account.shortfall_fen, account.balance_fen)
    if recover <= 0:
        return
    _append_entry(
        tenant=tenant,
        account=account,
        kind=EntryKind.REVERSAL,
        amount_fen=-recover,
        shortfall_change_fen=-recover,
        idempotency_key=f"recovery:entry:{credit.pk}",
        referral=credit.referral,
        description="从新奖励中追回此前冲正的差额",
        reason="追回差额",
    )


def _grant_vip_if_earned(*, tenant: Tenant, account: ReferralAccount, rule: ReferralSettings) -> None:
    if account.credited_referrals < rule.vip_threshold:
        return
    if not account.is_vip:
        account.is_vip = True
        account.vip_since = timezone.localdate()
        account.vip_review_needed = False
        VipEvent.objects.create(
            tenant=tenant,
            account=account,
            kind=VipEventKind.GRANTED,
            credited_referrals=account.credited_referrals,
            reason=f"成功转介绍 {account.credited_referrals} 位，达到 {rule.vip_threshold} 位门槛",
        )
    elif account.vip_review_needed:
        account.vip_review_needed = False
        VipEvent.objects.create(
            tenant=tenant,
            account=account,
            kind=VipEventKind.KEPT,
            credited_referrals=account.credited_referrals,
            reason="成功转介绍数重新达到门槛，复核自动关闭",
        )


@transaction.atomic
def referral_reverse_for_contract(*, tenant: Tenant, project_id: int, reason: str = "") -> LedgerEntry | None:
    """The credited contract was cancelled: take the credit back, recording any shortfall.

    If the referrer already spent part of it, the balance goes to 0 and the uncovered part is
    recorded on the entry and on the account (``shortfall_fen``) — never a negative balance.
    """
    project = Project.objects.filter(pk=project_id).first()
    if project is None:
        return None
    reason = (reason or getattr(project, "cancel_reason", "") or _("合同取消")).strip()
    found = Referral.objects.filter(referred_id=project.customer_id).select_related("referrer").first()
    if found is None:
        return None
    account = _lock_account(referral_account_ensure(tenant=tenant, customer=found.referrer).pk)
    referral = _lock_referral(found.pk)
    credit = LedgerEntry.objects.filter(referral=referral, kind=EntryKind.CREDIT, project=project).first()
    now = timezone.now()
    if credit is None:
        if referral.signed_project_id == project.pk and referral.status == ReferralStatus.SIGNED:
            referral.status = ReferralStatus.CANCELLED
            referral.closed_at = now
            referral.save(update_fields=["status", "closed_at", "updated_at"])
        return None
    key = f"reversal:referral:{referral.pk}:project:{project.pk}"
    if _entry_exists(key) is not None:
        return None
    take_back = min(credit.amount_fen, account.balance_fen)
    shortfall = credit.amount_fen - take_back
    description = f"合同取消，冲回奖励 ¥{format_fen_number(credit.amount_fen)}"
    if shortfall:
        description += f"（余额不足，差额 ¥{format_fen_number(shortfall)} 待追回）"
    entry = _append_entry(
        tenant=tenant,
        account=account,
        kind=EntryKind.REVERSAL,
        amount_fen=-take_back,
        shortfall_change_fen=shortfall,
        idempotency_key=key,
        referral=referral,
        project=project,
        description=description,
        reason=reason[:200],
    )
    if referral.status == ReferralStatus.CREDITED and referral.signed_project_id == project.pk:
        account.credited_referrals = max(account.credited_referrals - 1, 0)
        referral.status = ReferralStatus.CANCELLED
        referral.closed_at = now
        referral.save(update_fields=["status", "closed_at", "updated_at"])
    rule = referral_settings_get(tenant=tenant)
    if account.is_vip and account.credited_referrals < rule.vip_threshold and not account.vip_review_needed:
        # Not silently revoked: flag it and log; a manager decides (referral_vip_decide).
        account.vip_review_needed = True
        VipEvent.objects.create(
            tenant=tenant,
            account=account,
            kind=VipEventKind.REVIEW_NEEDED,
            credited_referrals=account.credited_referrals,
            reason=(
                f"合同取消冲正后成功转介绍数为 {account.credited_referrals}，低于门槛 {rule.vip_threshold}"
            ),
        )
    account.save(update_fields=["credited_referrals", "vip_review_needed", "updated_at"])
    _apply_customer_facts(tenant=tenant, account=account)
    return entry


def _validate_amount(amount_fen: object, field: str = "amount_fen") -> int:
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise ValidationError({field: _("金额必须是整数（分）。")})
    if amount_fen <= 0:
        raise ValidationError({field: _("金额必须大于 0。")})
    if amount_fen > MAX_AMOUNT_FEN:
        raise ValidationError({field: _("金额过大。")})
    return amount_fen


@transaction.atomic
def referral_redeem(
    *,
    tenant: Tenant,
    account: ReferralAccount,
    amount_fen: int,
    target: str,
    description: str,
    redeemed_by: User,
    project: Project | None = None,
    client_key: str = "",
) -> LedgerEntry:
    """Spend the fund on soft furnishing, appliances, a future project or a change order.

    Never more than the balance: the balance is read under the account lock, so fifty concurrent
    redemptions of ¥100 against ¥1,000 let exactly ten through. ``client_key`` makes a retried
    request (same key) return the first result instead of spending twice.
    """
    require_permission(redeemed_by, "referrals.redeem")
    errors: dict[str, str] = {}
    try:
        _validate_amount(amount_fen)
    except ValidationError as error:
        errors.update({k: v[0] for k, v in error.message_dict.items()})
    if target not in RedemptionTarget.values:
        errors["redemption_target"] = _("请选择抵扣用途。")
    if not (description or "").strip():
        errors["description"] = _("请写明抵扣了什么（如：客厅窗帘、冰箱、二期增项单号）。")
    if project is not None and project.customer_id != account.customer_id:
        errors["project"] = _("只能抵扣该客户自己的项目。")
    if errors:
        raise ValidationError(errors)
    account = _lock_account(account.pk)
    key = f"redemption:account:{account.pk}:{client_key or uuid.uuid4().hex}"
    if client_key and (previous := _entry_exists(key)) is not None:
        if previous.amount_fen != -amount_fen:
            raise ValidationError({"client_key": _("该请求编号已用于另一笔金额不同的抵扣。")})
        return previous
    if amount_fen > account.balance_fen:
        raise ValidationError(
            {
                "amount_fen": _("余额不足：当前余额 ¥%(balance)s，申请抵扣 ¥%(amount)s。")
                % {"balance": format_fen_number(account.balance_fen), "amount": format_fen_number(amount_fen)}
            }
        )
    entry = _append_entry(
        tenant=tenant,
        account=account,
        kind=EntryKind.REDEMPTION,
        amount_fen=-amount_fen,
        idempotency_key=key,
        redemption_target=target,
        project=project,
        description=description.strip()[:200],
        created_by=redeemed_by,
    )
    events.publish(
        events.EventType.REFERRAL_REDEEMED,
        tenant=tenant,
        referral_account_id=account.pk,
        customer_id=account.customer_id,
        amount_fen=amount_fen,
    )
    return entry


@transaction.atomic
def referral_adjust(
    *,
    tenant: Tenant,
    account: ReferralAccount,
    amount_fen: int,
    reason: str,
    adjusted_by: User,
    client_key: str = "",
) -> LedgerEntry:
    """Manager-only correction (positive or negative) with a reason; cannot drive the balance below 0."""
    require_permission(adjusted_by, "referrals.adjust")
    errors: dict[str, str] = {}
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen == 0:
        errors["amount_fen"] = _("调整金额必须是非 0 整数（分），负数表示扣减。")
    elif abs(amount_fen) > MAX_AMOUNT_FEN:
        errors["amount_fen"] = _("金额过大。")
    if not (reason or "").strip():
        errors["reason"] = _("人工调整必须填写原因。")
    if errors:
        raise ValidationError(errors)
    account = _lock_account(account.pk)
    key = f"adjustment:account:{account.pk}:{client_key or uuid.uuid4().hex}"
    if client_key and (previous := _entry_exists(key)) is not None:
        if previous.amount_fen != amount_fen:
            raise ValidationError({"client_key": _("该请求编号已用于另一笔金额不同的调整。")})
        return previous
    if account.balance_fen + amount_fen < 0:
        raise ValidationError(
            {
                "amount_fen": _("扣减后余额将为负数（当前余额 ¥%(balance)s）。")
                % {"balance": format_fen_number(account.balance_fen)}
            }
        )
    entry = _append_entry(
        tenant=tenant,
        account=account,
        kind=EntryKind.ADJUSTMENT,
        amount_fen=amount_fen,
        idempotency_key=key,
        reason=reason.strip()[:200],
        description="人工调整",
        created_by=adjusted_by,
    )
    _apply_customer_facts(tenant=tenant, account=account)
    return entry
