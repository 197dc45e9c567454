"""Referral accounts: codes, share links and the net credit total."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.urls import reverse
from django.utils.translation import gettext

from crm.models import Tenant
from customers.models import Customer
from referrals.models import (
    EntryKind,
    ReferralAccount,
)

if TYPE_CHECKING:
    from django.http import HttpRequest

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud and typed by customers


CODE_LENGTH = 8


def _new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def referral_account_ensure(*, tenant: Tenant, customer: Customer) -> ReferralAccount:
    """The customer's account (with its referral code), created on first need; safe under races."""
    account = ReferralAccount.objects.filter(customer=customer).first()
    if account is not None:
        return account
    if customer.tenant_id != tenant.pk:
        raise ValidationError({"customer": gettext("客户不存在。")})
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return ReferralAccount.objects.create(tenant=tenant, customer=customer, code=_new_code())
        except IntegrityError:
            account = ReferralAccount.objects.filter(customer=customer).first()
            if account is not None:
                return account  # a concurrent request created it first
            # otherwise the random code collided: try another one
    raise RuntimeError("could not allocate a unique referral code")


def referral_share_path(*, tenant: Tenant, account: ReferralAccount) -> str:
    return reverse("referrals:join", kwargs={"tenant_slug": tenant.slug, "code": account.code})


def referral_share_url(
    *, tenant: Tenant, account: ReferralAccount, request: HttpRequest | None = None
) -> str:
    """Absolute link for SMS and copy buttons (``settings.SITE_URL`` when there is no request)."""
    path = referral_share_path(tenant=tenant, account=account)
    if request is not None:
        return request.build_absolute_uri(path)
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def net_credit_total_fen(*, account: ReferralAccount) -> int:
    """Credits earned minus credits reversed (a shortfall still counts as reversed)."""
    totals = account.entries.filter(kind__in=[EntryKind.CREDIT, EntryKind.REVERSAL]).aggregate(
        amount=Sum("amount_fen"), shortfall=Sum("shortfall_change_fen")
    )
    return int(totals["amount"] or 0) - int(totals["shortfall"] or 0)
