"""referral.credited / referral.redeemed: a committed change announces exactly one event."""

from __future__ import annotations

import pytest

from crm.events.models import Event
from crm.tenancy import tenant_context
from referrals.models import ReferralAccount
from referrals.services import ledger
from tests.referrals.conftest import sign

pytestmark = pytest.mark.django_db


def _events(tenant, event_type):
    with tenant_context(tenant):
        return list(Event.objects.filter(type=event_type).values_list("payload", flat=True))


def test_credit_and_redemption_are_announced_once(setup, django_capture_on_commit_callbacks):
    tenant = setup.tenant
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, setup.project, setup.sales, amount_yuan=180_000)
    with tenant_context(tenant):
        account = ReferralAccount.objects.get(customer=setup.referrer)
        ledger.referral_credit_for_contract(tenant=tenant, project_id=setup.project.pk)  # replay: nothing new
    assert _events(tenant, "referral.credited") == [
        {"referral_id": setup.referral.pk, "customer_id": setup.referrer.pk, "amount_fen": 100_000}
    ]
    with tenant_context(tenant):
        kwargs = {
            "account": account,
            "amount_fen": 30_000,
            "target": "soft_furnishing",
            "description": "窗帘",
            "client_key": "k1",
        }
        ledger.referral_redeem(tenant=tenant, redeemed_by=setup.manager, **kwargs)
        ledger.referral_redeem(tenant=tenant, redeemed_by=setup.manager, **kwargs)  # retried request
    assert _events(tenant, "referral.redeemed") == [
        {"referral_account_id": account.pk, "customer_id": setup.referrer.pk, "amount_fen": 30_000}
    ]


def test_rolled_back_redemption_announces_nothing(setup, django_capture_on_commit_callbacks):
    tenant = setup.tenant
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, setup.project, setup.sales, amount_yuan=180_000)
    with pytest.raises(RuntimeError), tenant_context(tenant):
        account = ReferralAccount.objects.get(customer=setup.referrer)
        ledger.referral_redeem(
            tenant=tenant,
            account=account,
            amount_fen=30_000,
            target="soft_furnishing",
            description="窗帘",
            redeemed_by=setup.manager,
        )
        raise RuntimeError("the request failed after the service")
    assert _events(tenant, "referral.redeemed") == []
