"""Credit rules, crediting on contract_sign (through the real event), idempotency, VIP threshold."""

from __future__ import annotations

import pytest

from crm import events
from crm.tenancy import tenant_context
from customers.models import Customer
from referrals.models import (
    CreditRuleKind,
    EntryKind,
    LedgerEntry,
    ReferralAccount,
    ReferralSettings,
    ReferralStatus,
    VipEvent,
    VipEventKind,
)
from referrals.services import ledger, referrals, settings
from tests.referrals.conftest import new_referral, sign

pytestmark = pytest.mark.django_db


def rule(**fields) -> ReferralSettings:
    return ReferralSettings(**{"rule_kind": CreditRuleKind.FIXED, **fields})


@pytest.mark.parametrize(
    ("fields", "contract_fen", "expected_fen"),
    [
        ({"fixed_amount_fen": 100_000}, 30_000_000, 100_000),
        ({"fixed_amount_fen": 100_000, "cap_fen": 50_000}, 30_000_000, 50_000),
        ({"rule_kind": "percentage", "percentage_bp": 100}, 18_600_000, 186_000),  # 1% of ¥186,000 = ¥1,860
        ({"rule_kind": "percentage", "percentage_bp": 150, "cap_fen": 200_000}, 18_600_000, 200_000),
        ({"rule_kind": "percentage", "percentage_bp": 33}, 100_100, 330),  # 0.33% of ¥1,001 = 330.33 fen
        ({"rule_kind": "percentage", "percentage_bp": 100}, 18_588_680, 185_886),  # ¥185,886.80 → ¥1,858.86
        ({"rule_kind": "percentage", "percentage_bp": 100}, None, 0),
    ],
)
def test_credit_rule_is_integer_arithmetic(fields, contract_fen, expected_fen):
    amount = ledger.credit_amount_fen(rule=rule(**fields), contract_amount_fen=contract_fen)
    assert amount == expected_fen
    assert isinstance(amount, int)


def test_no_credit_before_signing_then_credit_on_contract_sign(setup, django_capture_on_commit_callbacks):
    tenant = setup.tenant
    with tenant_context(tenant):
        assert LedgerEntry.objects.count() == 0
        # the event for an unsigned project does nothing
        ledger.referral_credit_for_contract(tenant=tenant, project_id=setup.project.pk)
        assert LedgerEntry.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, setup.project, setup.sales, amount_yuan=180_000)
    with tenant_context(tenant):
        entry = LedgerEntry.objects.get()
        account = ReferralAccount.objects.get(customer=setup.referrer)
        referral = setup.referral.__class__.objects.get(pk=setup.referral.pk)
        assert (entry.kind, entry.amount_fen, entry.balance_after_fen) == (EntryKind.CREDIT, 100_000, 100_000)
        assert entry.project_id == setup.project.pk and entry.referral_id == referral.pk
        assert account.balance_fen == 100_000 and account.credited_referrals == 1
        assert referral.status == ReferralStatus.CREDITED and referral.signed_project_id == setup.project.pk
        # customers' loyalty/value axes got the facts
        referrer = Customer.objects.get(pk=setup.referrer.pk)
        assert referrer.credited_referrals == 1 and referrer.referral_credit_total_fen == 100_000


def test_percentage_rule_with_cap_applies_to_contract_amount(setup, django_capture_on_commit_callbacks):
    tenant = setup.tenant
    with tenant_context(tenant):
        settings.referral_settings_update(
            tenant=tenant,
            updated_by=setup.manager,
            rule_kind="percentage",
            fixed_amount_fen=0,
            percentage_bp=100,
            cap_fen=150_000,
            vip_threshold=3,
        )
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, setup.project, setup.sales, amount_yuan=120_000)
    with tenant_context(tenant):
        assert LedgerEntry.objects.get().amount_fen == 120_000  # 1% of ¥120,000 = ¥1,200 < cap ¥1,500


def test_same_event_processed_twice_credits_once(setup, django_capture_on_commit_callbacks):
    tenant = setup.tenant
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, setup.project, setup.sales)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        events.publish(
            events.EventType.PROJECT_CONTRACT_SIGNED,
            tenant=tenant,
            project_id=setup.project.pk,
            customer_id=0,
        )
    with tenant_context(tenant):
        assert ledger.referral_credit_for_contract(tenant=tenant, project_id=setup.project.pk) is None
        assert LedgerEntry.objects.filter(kind=EntryKind.CREDIT).count() == 1
        assert ReferralAccount.objects.get(customer=setup.referrer).balance_fen == 100_000


def test_idempotency_key_is_unique_per_tenant_in_the_database(setup, django_capture_on_commit_callbacks):
    from django.db import IntegrityError, transaction

    with django_capture_on_commit_callbacks(execute=True):
        sign(setup.tenant, setup.project, setup.sales)
    with tenant_context(setup.tenant):
        entry = LedgerEntry.objects.get()
        with pytest.raises(IntegrityError), transaction.atomic():
            LedgerEntry.objects.create(
                tenant=setup.tenant,
                account=entry.account,
                kind=EntryKind.CREDIT,
                amount_fen=1,
                balance_after_fen=entry.balance_after_fen + 1,
                idempotency_key=entry.idempotency_key,
            )


def test_unreferred_customer_signing_credits_nobody(tenant_a, sales_a, django_capture_on_commit_callbacks):
    from tests.projects.factories import ProjectFactory

    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant_a, project, sales_a)
    with tenant_context(tenant_a):
        assert LedgerEntry.objects.count() == 0


def test_vip_at_three_credited_referrals_with_date(setup, django_capture_on_commit_callbacks):
    tenant = setup.tenant
    projects = [setup.project] + [new_referral(tenant, setup.referrer, setup.sales)[1] for _ in range(2)]
    for index, project in enumerate(projects):
        with django_capture_on_commit_callbacks(execute=True):
            sign(tenant, project, setup.sales)
        with tenant_context(tenant):
            account = ReferralAccount.objects.get(customer=setup.referrer)
            assert account.credited_referrals == index + 1
            assert account.is_vip is (index == 2)
    with tenant_context(tenant):
        from django.utils import timezone

        assert account.vip_since == timezone.localdate()
        assert list(VipEvent.objects.values_list("kind", flat=True)) == [VipEventKind.GRANTED]
        assert Customer.objects.get(pk=setup.referrer.pk).is_vip is True


def test_settings_validation_and_permission(setup):
    from django.core.exceptions import PermissionDenied, ValidationError

    tenant = setup.tenant
    with tenant_context(tenant):
        with pytest.raises(ValidationError) as error:
            settings.referral_settings_update(
                tenant=tenant,
                updated_by=setup.manager,
                rule_kind="percentage",
                fixed_amount_fen=0,
                percentage_bp=0,
                cap_fen=-1,
                vip_threshold=0,
            )
        assert set(error.value.message_dict) == {"percentage_bp", "cap_fen", "vip_threshold"}
        with pytest.raises(PermissionDenied):
            settings.referral_settings_update(
                tenant=tenant,
                updated_by=setup.sales,
                rule_kind="fixed",
                fixed_amount_fen=1,
                percentage_bp=1,
                cap_fen=None,
                vip_threshold=3,
            )
        assert not ReferralSettings.objects.exists()


def test_linking_after_the_contract_was_signed_credits_once(
    tenant_a, sales_a, django_capture_on_commit_callbacks
):
    from tests.customers.factories import CustomerFactory
    from tests.projects.factories import ProjectFactory

    with tenant_context(tenant_a):
        referrer, referred = CustomerFactory.create_batch(2, tenant=tenant_a)
        project = ProjectFactory(tenant=tenant_a, customer=referred)
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant_a, project, sales_a)  # nobody referred them yet: no credit
    with tenant_context(tenant_a):
        assert LedgerEntry.objects.count() == 0
        referral = referrals.referral_create(
            tenant=tenant_a, referrer=referrer, referred=referred, source="manual", created_by=sales_a
        )
        assert referral.status == ReferralStatus.CREDITED
        assert LedgerEntry.objects.get().project_id == project.pk
        referrals.referral_create(tenant=tenant_a, referrer=referrer, referred=referred, source="manual")
        ledger.referral_credit_for_contract(tenant=tenant_a, project_id=project.pk)
        assert LedgerEntry.objects.count() == 1


def test_a_code_on_a_later_lead_of_a_signed_customer_does_not_credit(
    tenant_a, sales_a, django_capture_on_commit_callbacks
):
    from tests.customers.factories import CustomerFactory
    from tests.projects.factories import ProjectFactory

    with tenant_context(tenant_a):
        referrer, referred = CustomerFactory.create_batch(2, tenant=tenant_a)
        project = ProjectFactory(tenant=tenant_a, customer=referred)
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant_a, project, sales_a)
    with tenant_context(tenant_a):
        referral = referrals.referral_create(
            tenant=tenant_a, referrer=referrer, referred=referred, source="intake"
        )
        assert referral.status == ReferralStatus.REFERRED
        assert LedgerEntry.objects.count() == 0
