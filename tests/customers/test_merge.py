"""Merging duplicate customers (issue 14 §2): every app's rows move, the ledger reconciles, undo."""

from __future__ import annotations

import datetime

import pytest
from django.apps import apps
from django.db.models import Sum
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import AuditAction, Customer, CustomerAuditLog, CustomerMerge, PoolClaim
from customers.services import merge as merge_service
from customers.services import privacy
from engagement.models import (
    Campaign,
    CampaignSignup,
    Consent,
    ConsentEvent,
    LeadScore,
    Offer,
    PushDispatch,
    PushRule,
    Redemption,
)
from payments.services import payment_plan_for_project
from referrals.models import LedgerEntry, Referral, ReferralAccount
from tests.aftercare.factories import (
    HandedOverProjectFactory,
    MaintenancePlanFactory,
    ServiceTicketFactory,
    SurveyFactory,
    VisitFactory,
)
from tests.customers.factories import CustomerFactory, FollowUpFactory, LeadFactory
from tests.engagement.factories import _campaign, _offer, _push_rule
from tests.projects.factories import ProjectFactory
from tests.quotes.factories import make_quotation
from tests.referrals.factories import ReferralFactory, funded_account
from tests.sales.factories import make_appointment, make_task

# Rows that legitimately still point at the archived duplicate after a merge.
STAYS_WITH_DUPLICATE = {
    ("customers.Customer", "merged_into"),
    ("customers.CustomerMerge", "duplicate"),
    ("customers.CustomerOwnership", "customer"),
    ("referrals.ReferralAccount", "customer"),  # both had an account: the balance moved by entries
    ("engagement.ConsentEvent", "customer"),  # append-only history: copied to the survivor
    ("analytics.CustomerMilestone", "customer"),  # derived per customer by triggers: each keeps its own row
}


def customer_foreign_keys() -> list[tuple[type, str]]:
    """Every foreign key to Customer in the project (hidden ``related_name="+"`` ones too)."""
    keys = []
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if field.is_relation and field.concrete and field.related_model is Customer:
                keys.append((model, field.name))
    return keys


def rows_of(customer: Customer) -> dict[str, set[int]]:
    found = {}
    for model, field in customer_foreign_keys():
        ids = set(model._default_manager.filter(**{field: customer}).values_list("pk", flat=True))
        if ids:
            found[f"{model._meta.label}.{field}"] = ids
    return found


def assert_ledger_reconciles() -> None:
    for account in ReferralAccount.objects.all():
        total = LedgerEntry.objects.filter(account=account).aggregate(total=Sum("amount_fen"))["total"] or 0
        shortfall = (
            LedgerEntry.objects.filter(account=account).aggregate(total=Sum("shortfall_change_fen"))["total"]
            or 0
        )
        assert total == account.balance_fen, account
        assert shortfall == account.shortfall_fen, account


def build_customer_with_rows_everywhere(tenant, manager, customer: Customer) -> None:
    """One row (or more) of every app pointing at ``customer``."""
    lead = LeadFactory(tenant=tenant, customer=customer)
    FollowUpFactory(tenant=tenant, customer=customer)
    PoolClaim.objects.create(tenant=tenant, customer=customer, claimed_by=manager, pooled_at=timezone.now())
    privacy.customer_reveal_phone(tenant=tenant, customer=customer, user=manager)
    signed = ProjectFactory(tenant=tenant, customer=customer, signed=True)
    payment_plan_for_project(tenant=tenant, project_id=signed.pk)
    handed_over = HandedOverProjectFactory(tenant=tenant, customer=customer)
    plan = MaintenancePlanFactory(tenant=tenant, project=handed_over)
    VisitFactory(tenant=tenant, plan=plan)
    ServiceTicketFactory(tenant=tenant, project=handed_over)
    SurveyFactory(tenant=tenant, customer=customer)
    ReferralFactory(tenant=tenant, referrer=customer)  # as referrer
    ReferralFactory(tenant=tenant, referred=customer)  # as referee
    now = timezone.now()
    Consent.objects.create(
        tenant=tenant,
        customer=customer,
        channel="sms",
        state="withdrawn",
        source="staff",
        version="2025-01",
        changed_at=now,
    )
    ConsentEvent.objects.create(
        tenant=tenant,
        customer=customer,
        channel="sms",
        state="withdrawn",
        source="staff",
        version="2025-01",
        occurred_at=now,
    )
    LeadScore.objects.create(
        tenant=tenant, lead=lead, customer=customer, score=0.7, method="rules", computed_at=now
    )
    campaign: Campaign = _campaign(tenant)
    CampaignSignup.objects.create(tenant=tenant, campaign=campaign, customer=customer, signed_up_at=now)
    offer: Offer = _offer(tenant)
    Redemption.objects.create(tenant=tenant, offer=offer, customer=customer, redeemed_at=now)
    rule: PushRule = _push_rule(tenant)
    PushDispatch.objects.create(
        tenant=tenant, rule=rule, customer=customer, period_key="2026-W48", decided_at=now
    )
    make_appointment(tenant, customer=customer)
    make_task(tenant, customer=customer)
    make_quotation(tenant, customer=customer)


@pytest.fixture
def pair(tenant_a, manager_a, make_staff):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        survivor = CustomerFactory(
            tenant=tenant_a, name="张先生", phone="+8613811110000", owner=rep, tags=["VIP"]
        )
        duplicate = CustomerFactory(
            tenant=tenant_a,
            name="张伟",
            phone="+8613922220000",
            wechat_id="zhangwei88",
            owner=manager_a,
            tags=["老带新"],
            community="阳光花园",
        )
    return survivor, duplicate


def test_merge_moves_every_related_row_and_the_ledger_reconciles_to_the_fen(tenant_a, manager_a, pair):
    survivor, duplicate = pair
    with tenant_context(tenant_a):
        build_customer_with_rows_everywhere(tenant_a, manager_a, duplicate)
        # Both customers hold fund: the duplicate's moves through entries; fen amounts are odd on purpose.
        survivor_account = funded_account(tenant_a, 10_001, customer=survivor)
        duplicate_account = funded_account(tenant_a, 12_345, customer=duplicate)
        total_before = ReferralAccount.objects.aggregate(total=Sum("balance_fen"))["total"]
        before = rows_of(duplicate)
        # Every app contributes at least one row (a new FK to Customer needs a merge handler and a row here).
        expected = {f"{model._meta.label}.{field}" for model, field in customer_foreign_keys()}
        expected -= {
            "customers.Customer.merged_into",
            "customers.CustomerMerge.duplicate",
            "customers.CustomerMerge.survivor",
        }
        assert expected <= set(before), sorted(expected - set(before))

        merge = merge_service.customer_merge(
            tenant=tenant_a,
            survivor=survivor,
            duplicate=duplicate,
            actor=manager_a,
            field_choices={"phone": "duplicate", "community": "duplicate", "name": "survivor"},
        )

        after = rows_of(duplicate)
        leftover = {
            key
            for key, ids in before.items()
            if tuple(key.rsplit(".", 1)) not in STAYS_WITH_DUPLICATE and ids & after.get(key, set())
        }
        assert leftover == set(), leftover
        assert set(after) <= {
            *before,
            "customers.CustomerAuditLog.customer",
            "customers.CustomerMerge.duplicate",
        }
        on_survivor = rows_of(survivor)
        for key, ids in before.items():
            if tuple(key.rsplit(".", 1)) not in STAYS_WITH_DUPLICATE:
                assert ids <= on_survivor[key], key
        # History: copied, not moved (append-only); the survivor carries the duplicate's withdrawal.
        assert ConsentEvent.objects.filter(customer=survivor).count() == 1
        assert Consent.objects.get(customer=survivor, channel="sms").state == "withdrawn"

        # The fund: the duplicate's balance moved by two entries; every account reconciles.
        survivor_account.refresh_from_db()
        duplicate_account.refresh_from_db()
        assert survivor_account.balance_fen == 10_001 + 12_345
        assert duplicate_account.balance_fen == 0
        assert ReferralAccount.objects.aggregate(total=Sum("balance_fen"))["total"] == total_before
        assert_ledger_reconciles()

        duplicate.refresh_from_db()
        survivor.refresh_from_db()
        assert duplicate.merged_into_id == survivor.pk and duplicate.is_merged
        assert duplicate.phone != "+8613922220000" and duplicate.wechat_id == ""
        assert survivor.phone == "+8613922220000" and survivor.name == "张先生"
        assert survivor.community == "阳光花园"
        assert set(survivor.tags) == {"VIP", "老带新"}
        assert survivor.signed_projects == 1
        assert merge.duplicate_values["phone"] == "+8613922220000"
        audit = CustomerAuditLog.objects.get(action=AuditAction.MERGE, customer=survivor)
        assert audit.detail["merge_id"] == merge.pk and audit.actor_id == manager_a.pk

        # Undo: everything goes back, the ledger still reconciles and nothing is lost or doubled.
        merge_service.customer_merge_undo(tenant=tenant_a, merge=merge, actor=manager_a)
        duplicate.refresh_from_db()
        survivor.refresh_from_db()
        assert not duplicate.is_merged and duplicate.phone == "+8613922220000"
        assert duplicate.wechat_id == "zhangwei88" and duplicate.owner_id == manager_a.pk
        assert survivor.phone == "+8613811110000" and survivor.community == "" and survivor.tags == ["VIP"]
        restored = rows_of(duplicate)
        for key, ids in before.items():
            assert ids <= restored.get(key, set()), key
        assert ConsentEvent.objects.filter(customer=survivor).count() == 0
        survivor_account.refresh_from_db()
        duplicate_account.refresh_from_db()
        assert (survivor_account.balance_fen, duplicate_account.balance_fen) == (10_001, 12_345)
        assert ReferralAccount.objects.aggregate(total=Sum("balance_fen"))["total"] == total_before
        assert_ledger_reconciles()
        merge.refresh_from_db()
        assert merge.undone_at is not None and merge.undone_by_id == manager_a.pk
        assert CustomerAuditLog.objects.filter(action=AuditAction.UNMERGE).count() == 2


def test_only_the_duplicate_has_an_account_the_account_itself_moves(tenant_a, manager_a, pair):
    survivor, duplicate = pair
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 777, customer=duplicate)
        merge_service.customer_merge(tenant=tenant_a, survivor=survivor, duplicate=duplicate, actor=manager_a)
        account.refresh_from_db()
        assert account.customer_id == survivor.pk and account.balance_fen == 777
        assert LedgerEntry.objects.filter(account=account).count() == 1  # no transfer entries needed
        assert_ledger_reconciles()


def test_the_duplicates_referral_code_credits_the_survivor_after_the_merge(tenant_a, manager_a, pair):
    """A share link printed before the merge still works, and the new referral lands on the survivor."""
    from referrals.handlers import on_lead_created
    from referrals.services import referrals as referral_services

    survivor, duplicate = pair
    with tenant_context(tenant_a):
        funded_account(tenant_a, 100, customer=survivor)
        old_code = funded_account(tenant_a, 200, customer=duplicate).code
        merge_service.customer_merge(tenant=tenant_a, survivor=survivor, duplicate=duplicate, actor=manager_a)
        friend = CustomerFactory(tenant=tenant_a, name="李女士", phone="+8613733330000")
        on_lead_created(tenant=tenant_a, customer_id=friend.pk, referral_code=old_code.lower())
        referral = Referral.objects.get(referred=friend)
        assert referral.referrer_id == survivor.pk
        # Linking by hand with the old code also finds the survivor.
        other = CustomerFactory(tenant=tenant_a, name="王先生", phone="+8613644440000")
        by_code = referral_services.referral_link_by_code(
            tenant=tenant_a, referred=other, code=old_code, created_by=manager_a
        )
        assert by_code.referrer_id == survivor.pk
        assert not Referral.objects.filter(referrer=duplicate).exists()


def test_undo_is_refused_once_the_moved_fund_is_spent(tenant_a, manager_a, pair):
    from referrals.services import ledger

    survivor, duplicate = pair
    with tenant_context(tenant_a):
        funded_account(tenant_a, 100, customer=survivor)
        funded_account(tenant_a, 5_000, customer=duplicate)
        merge = merge_service.customer_merge(
            tenant=tenant_a, survivor=survivor, duplicate=duplicate, actor=manager_a
        )
        target = ReferralAccount.objects.get(customer=survivor)
        ledger.referral_redeem(
            tenant=tenant_a,
            account=target,
            amount_fen=5_000,
            target="appliances",
            description="冰箱",
            redeemed_by=manager_a,
        )
        with pytest.raises(Exception) as caught:
            merge_service.customer_merge_undo(tenant=tenant_a, merge=merge, actor=manager_a)
        assert "merge_fund_spent" in str(caught.value.error_dict["duplicate"][0].code)  # type: ignore[attr-defined]
        merge.refresh_from_db()
        duplicate.refresh_from_db()
        assert merge.undone_at is None and duplicate.is_merged
        assert_ledger_reconciles()


def test_a_referral_between_the_two_is_refused_and_nothing_is_written(tenant_a, manager_a, pair):
    from django.core.exceptions import ValidationError

    survivor, duplicate = pair
    with tenant_context(tenant_a):
        Referral.objects.create(tenant=tenant_a, referrer=duplicate, referred=survivor, source="manual")
        FollowUpFactory(tenant=tenant_a, customer=duplicate)
        with pytest.raises(ValidationError) as caught:
            merge_service.customer_merge(
                tenant=tenant_a, survivor=survivor, duplicate=duplicate, actor=manager_a
            )
        assert caught.value.error_dict["duplicate"][0].code == "merge_referral_between"
        assert CustomerMerge.objects.count() == 0
        duplicate.refresh_from_db()
        assert not duplicate.is_merged and duplicate.follow_ups.count() == 1


def test_ownership_history_records_every_change_of_owner(tenant_a, manager_a, make_staff):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        Customer.objects.filter(pk=customer.pk).update(owner=None, in_pool=True)  # a scan's bulk update
        customer.refresh_from_db()
        customer.owner = manager_a
        customer.save()
        periods = list(customer.ownership_periods.order_by("started_at", "id"))
        assert [period.owner_id for period in periods] == [rep.pk, None, manager_a.pk]
        assert all(period.ended_at is not None for period in periods[:2]) and periods[2].ended_at is None
        assert periods[0].ended_at <= periods[1].started_at + datetime.timedelta(seconds=1)


@pytest.mark.django_db(transaction=True)
def test_two_managers_merging_one_duplicate_at_once_merge_it_once(tenant_a, manager_a, make_staff):
    import threading

    from django.core.exceptions import ValidationError
    from django.db import connection

    other_manager = make_staff(tenant_a, Role.MANAGER)
    with tenant_context(tenant_a):
        first, duplicate, second = (CustomerFactory(tenant=tenant_a) for _ in range(3))
        funded_account(tenant_a, 999, customer=duplicate)
        funded_account(tenant_a, 1, customer=first)
        funded_account(tenant_a, 2, customer=second)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def merge_into(survivor, actor) -> None:
        try:
            with tenant_context(tenant_a):
                barrier.wait()
                merge_service.customer_merge(
                    tenant=tenant_a, survivor=survivor, duplicate=duplicate, actor=actor
                )
            outcomes.append("merged")
        except ValidationError as error:
            outcomes.append(error.error_dict["duplicate"][0].code or "")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=merge_into, args=(first, manager_a)),
        threading.Thread(target=merge_into, args=(second, other_manager)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already_merged", "merged"]
    with tenant_context(tenant_a):
        assert CustomerMerge.objects.count() == 1
        assert ReferralAccount.objects.aggregate(total=Sum("balance_fen"))["total"] == 999 + 1 + 2
        assert_ledger_reconciles()
