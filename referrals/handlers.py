"""Reactions to other apps' events (subscribed in ``ReferralsConfig.ready()``). All idempotent."""

from __future__ import annotations

import logging

from django.core.exceptions import ValidationError

from crm.models import Tenant
from crm.notifications.services import sms_send
from customers.models import Customer
from referrals.models import ReferralSource
from referrals.selectors import referrer_for_code
from referrals.services import accounts, ledger, referrals

logger = logging.getLogger("referrals")


def on_lead_created(*, tenant: Tenant, customer_id: int, referral_code: str = "", **_payload) -> None:
    """A lead arrived with a referral code: record who referred whom (this tenant's codes only)."""
    code = (referral_code or "").strip().upper()
    if not code:
        return
    referrer = referrer_for_code(code)  # a merged duplicate's code credits the survivor
    referred = Customer.objects.filter(pk=customer_id).first()
    if referrer is None or referred is None:
        logger.info("lead %s: referral code %r not found in tenant %s", customer_id, code, tenant.pk)
        return
    try:
        referrals.referral_create(
            tenant=tenant, referrer=referrer, referred=referred, source=ReferralSource.INTAKE
        )
    except ValidationError as error:  # self-referral or already referred by someone else: keep the first
        logger.info("lead %s: referral code %r not applied: %s", customer_id, code, error.messages)


def on_contract_signed(*, tenant: Tenant, project_id: int, **_payload) -> None:
    ledger.referral_credit_for_contract(tenant=tenant, project_id=project_id)


def on_contract_cancelled(*, tenant: Tenant, project_id: int, **_payload) -> None:
    ledger.referral_reverse_for_contract(tenant=tenant, project_id=project_id)


def on_survey_answered(*, tenant: Tenant, kind: str, score: int, **payload) -> None:
    """Only promoters (an NPS answer of 9–10) are asked for a referral."""
    if kind == "nps" and score >= 9:
        on_survey_promoter(tenant=tenant, **payload)


def on_survey_promoter(*, tenant: Tenant, customer_id: int, survey_id: int, **_payload) -> None:
    """A promoter (NPS 9–10) is the best time to ask for a referral: text them their link, once."""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or not customer.phone:
        return
    account = accounts.referral_account_ensure(tenant=tenant, customer=customer)
    link = accounts.referral_share_url(tenant=tenant, account=account)
    message = (
        f"{customer.name}您好，感谢您对{tenant.name}的认可！推荐亲友来装修，签约后您可获得装修基金奖励。"
        f"专属推荐码 {account.code}，推荐链接 {link}"
    )
    sms_send(
        tenant=tenant, phone=customer.phone, message=message, dedupe_key=f"referral-invite:survey:{survey_id}"
    )
