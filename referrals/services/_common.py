"""Shared by several referral concerns: the amount bound, the row locks in the one order every write
takes (account, then referral), and the customer facts pushed back to customers."""

from __future__ import annotations

from crm.models import Tenant
from customers.models import Customer
from customers.services.customers import customer_apply_referral_facts
from referrals.models import (
    Referral,
    ReferralAccount,
)
from referrals.services.accounts import net_credit_total_fen

MAX_AMOUNT_FEN = 100_000_000_00  # 1 亿元: a sanity bound on any single entry


def _lock_account(account_id: int) -> ReferralAccount:
    """THE lock. Every write path calls this before touching an account or its referrals."""
    return ReferralAccount.objects.select_for_update(of=("self",)).get(pk=account_id)


def _lock_referral(referral_id: int) -> Referral:
    """Second lock, only ever taken while holding the referrer's account lock."""
    return Referral.objects.select_for_update(of=("self",)).get(pk=referral_id)


def _apply_customer_facts(*, tenant: Tenant, account: ReferralAccount) -> None:
    """Tell customers (loyalty/value axes) what changed."""
    customer = Customer.objects.get(pk=account.customer_id)
    customer_apply_referral_facts(
        tenant=tenant,
        customer=customer,
        credited_referrals=account.credited_referrals,
        referral_credit_total_fen=net_credit_total_fen(account=account),
        is_vip=account.is_vip,
    )
