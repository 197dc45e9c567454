"""Redemption limits, reversal with shortfall, append-only in the database, reconciliation."""

from __future__ import annotations

import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from crm import events
from crm.tenancy import tenant_context
from referrals.models import EntryKind, LedgerEntry, ReferralAccount, ReferralStatus, VipEvent, VipEventKind
from referrals.services import ledger, vip
from tests.referrals.conftest import new_referral, sign
from tests.referrals.factories import funded_account

pytestmark = pytest.mark.django_db


def redeem(tenant, account, amount_fen, user, **extra):
    return ledger.referral_redeem(
        tenant=tenant,
        account=account,
        amount_fen=amount_fen,
        target=extra.pop("target", "soft_furnishing"),
        description=extra.pop("description", "客厅窗帘"),
        redeemed_by=user,
        **extra,
    )


def test_redemption_up_to_the_balance_and_never_more(tenant_a, sales_a):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 100_000)
        entry = redeem(tenant_a, account, 60_000, sales_a, target="appliances", description="方太油烟机")
        assert (entry.kind, entry.amount_fen, entry.balance_after_fen) == (
            EntryKind.REDEMPTION,
            -60_000,
            40_000,
        )
        assert entry.redemption_target == "appliances" and entry.description == "方太油烟机"
        with pytest.raises(ValidationError) as error:
            redeem(tenant_a, account, 40_001, sales_a)
        assert "余额不足" in error.value.message_dict["amount_fen"][0]
        redeem(tenant_a, account, 40_000, sales_a)
        account.refresh_from_db()
        assert account.balance_fen == 0
        assert LedgerEntry.objects.filter(kind=EntryKind.REDEMPTION).count() == 2


@pytest.mark.parametrize("amount", [0, -100, 1.5, True, "100"])
def test_zero_negative_or_non_integer_redemption_writes_nothing(tenant_a, sales_a, amount):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 100_000)
        with pytest.raises(ValidationError) as error:
            redeem(tenant_a, account, amount, sales_a)
        assert "amount_fen" in error.value.message_dict
        assert LedgerEntry.objects.count() == 1
        account.refresh_from_db()
        assert account.balance_fen == 100_000


def test_redemption_needs_a_target_and_what_it_paid_for(tenant_a, sales_a):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 100_000)
        with pytest.raises(ValidationError) as error:
            redeem(tenant_a, account, 100, sales_a, target="cash", description=" ")
        assert set(error.value.message_dict) == {"redemption_target", "description"}


def test_redemption_retry_with_the_same_client_key_spends_once(tenant_a, sales_a):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 100_000)
        first = redeem(tenant_a, account, 30_000, sales_a, client_key="form-123")
        second = redeem(tenant_a, account, 30_000, sales_a, client_key="form-123")
        assert first.pk == second.pk
        account.refresh_from_db()
        assert account.balance_fen == 70_000


def test_adjustment_is_manager_only_and_needs_a_reason(tenant_a, sales_a, manager_a):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
        with pytest.raises(PermissionDenied):
            ledger.referral_adjust(
                tenant=tenant_a, account=account, amount_fen=500, reason="补发", adjusted_by=sales_a
            )
        with pytest.raises(ValidationError) as error:
            ledger.referral_adjust(
                tenant=tenant_a, account=account, amount_fen=500, reason=" ", adjusted_by=manager_a
            )
        assert "reason" in error.value.message_dict
        with pytest.raises(ValidationError):
            ledger.referral_adjust(
                tenant=tenant_a, account=account, amount_fen=0, reason="x", adjusted_by=manager_a
            )
        with pytest.raises(ValidationError):  # cannot drive the balance negative
            ledger.referral_adjust(
                tenant=tenant_a, account=account, amount_fen=-10_001, reason="多发", adjusted_by=manager_a
            )
        assert LedgerEntry.objects.count() == 1
        entry = ledger.referral_adjust(
            tenant=tenant_a, account=account, amount_fen=-2_000, reason="重复发放扣回", adjusted_by=manager_a
        )
        assert (entry.amount_fen, entry.balance_after_fen, entry.reason) == (-2_000, 8_000, "重复发放扣回")
        assert entry.created_by == manager_a


def test_reversal_on_contract_cancelled_takes_the_credit_back(setup, django_capture_on_commit_callbacks):
    tenant = setup.tenant
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, setup.project, setup.sales)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        events.publish(
            events.EventType.PROJECT_CONTRACT_CANCELLED,
            tenant=tenant,
            project_id=setup.project.pk,
            customer_id=0,
        )
    with tenant_context(tenant):
        reversal = LedgerEntry.objects.get(kind=EntryKind.REVERSAL)
        account = ReferralAccount.objects.get(customer=setup.referrer)
        assert (reversal.amount_fen, reversal.shortfall_change_fen, reversal.balance_after_fen) == (
            -100_000,
            0,
            0,
        )
        assert account.balance_fen == 0 and account.shortfall_fen == 0 and account.credited_referrals == 0
        assert setup.referral.__class__.objects.get(pk=setup.referral.pk).status == ReferralStatus.CANCELLED
        # processed again: nothing more
        assert ledger.referral_reverse_for_contract(tenant=tenant, project_id=setup.project.pk) is None
        assert LedgerEntry.objects.filter(kind=EntryKind.REVERSAL).count() == 1


def test_reversal_after_spending_records_the_shortfall_never_negative(
    setup, django_capture_on_commit_callbacks
):
    tenant = setup.tenant
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, setup.project, setup.sales)
    with tenant_context(tenant):
        account = ReferralAccount.objects.get(customer=setup.referrer)
        redeem(tenant, account, 80_000, setup.sales)
        reversal = ledger.referral_reverse_for_contract(tenant=tenant, project_id=setup.project.pk)
        account.refresh_from_db()
        assert reversal.amount_fen == -20_000  # all that was left
        assert reversal.shortfall_change_fen == 80_000  # the spent part, recorded
        assert "差额 ¥800.00 待追回" in reversal.description
        assert account.balance_fen == 0 and account.shortfall_fen == 80_000
    # the next credit first recovers the shortfall, visibly, as its own entry
    referral2, project2 = new_referral(tenant, setup.referrer, setup.sales)
    with django_capture_on_commit_callbacks(execute=True):
        sign(tenant, project2, setup.sales)
    with tenant_context(tenant):
        account.refresh_from_db()
        recovery = LedgerEntry.objects.get(idempotency_key__startswith="recovery:")
        assert (recovery.amount_fen, recovery.shortfall_change_fen) == (-80_000, -80_000)
        assert account.balance_fen == 20_000 and account.shortfall_fen == 0
        assert ledger_ok(tenant)


def test_cancel_through_projects_contract_cancel(setup, django_capture_on_commit_callbacks):
    from projects.services import contracts as project_contracts

    tenant = setup.tenant
    with django_capture_on_commit_callbacks(execute=True):
        project = sign(tenant, setup.project, setup.sales)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        project_contracts.contract_cancel(
            tenant=tenant, project=project, cancelled_by=setup.manager, reason="客户家庭原因"
        )
    with tenant_context(tenant):
        reversal = LedgerEntry.objects.get(kind=EntryKind.REVERSAL)
        assert reversal.reason == "客户家庭原因"
        assert ReferralAccount.objects.get(customer=setup.referrer).balance_fen == 0


def test_reversal_below_vip_threshold_flags_review_and_manager_decides(
    setup, django_capture_on_commit_callbacks
):
    tenant = setup.tenant
    projects = [setup.project] + [new_referral(tenant, setup.referrer, setup.sales)[1] for _ in range(2)]
    for project in projects:
        with django_capture_on_commit_callbacks(execute=True):
            sign(tenant, project, setup.sales)
    with tenant_context(tenant):
        ledger.referral_reverse_for_contract(tenant=tenant, project_id=projects[0].pk)
        account = ReferralAccount.objects.get(customer=setup.referrer)
        assert account.credited_referrals == 2
        assert account.is_vip is True and account.vip_review_needed is True  # not silently revoked
        with pytest.raises(PermissionDenied):
            vip.referral_vip_decide(
                tenant=tenant, account=account, keep=False, reason="x", decided_by=setup.sales
            )
        with pytest.raises(ValidationError):
            vip.referral_vip_decide(
                tenant=tenant, account=account, keep=False, reason="", decided_by=setup.manager
            )
        vip.referral_vip_decide(
            tenant=tenant,
            account=account,
            keep=False,
            reason="转介绍合同取消，低于门槛",
            decided_by=setup.manager,
        )
        account.refresh_from_db()
        assert account.is_vip is False and account.vip_since is None and not account.vip_review_needed
        kinds = list(VipEvent.objects.order_by("id").values_list("kind", "decided_by"))
        assert kinds == [
            (VipEventKind.GRANTED, None),
            (VipEventKind.REVIEW_NEEDED, None),
            (VipEventKind.REVOKED, setup.manager.pk),
        ]


def test_ledger_is_append_only_in_the_database(tenant_a):
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
        entry = account.entries.get()
        for sql in (
            "UPDATE referrals_ledgerentry SET amount_fen = 999999 WHERE id = %s",
            "DELETE FROM referrals_ledgerentry WHERE id = %s",
        ):
            with (
                pytest.raises(DatabaseError, match="append-only"),
                transaction.atomic(),
                connection.cursor() as cursor,
            ):
                cursor.execute(sql, [entry.pk])
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            LedgerEntry.objects.filter(pk=entry.pk).update(description="改写")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            entry.delete()
        entry.refresh_from_db()
        assert entry.amount_fen == 10_000 and entry.description == ""


def test_balance_cannot_go_negative_in_the_database(tenant_a):
    from django.db import IntegrityError

    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
        with pytest.raises(IntegrityError), transaction.atomic():
            ReferralAccount.objects.filter(pk=account.pk).update(balance_fen=-1)


def ledger_ok(tenant) -> bool:
    from referrals.selectors import ledger_discrepancies

    return ledger_discrepancies(tenant=tenant)[1] == []


def test_reconciliation_command_proves_cached_equals_sum_for_every_tenant(tenant_a, tenant_b, sales_a):
    with tenant_context(tenant_a):
        account_a = funded_account(tenant_a, 50_000)
        redeem(tenant_a, account_a, 12_345, sales_a)
    with tenant_context(tenant_b):
        funded_account(tenant_b, 70_000)
    out = io.StringIO()
    call_command("reconcile_referral_ledger", stdout=out)
    assert "anju: 1 accounts, 0 mismatched" in out.getvalue()
    assert "meizhai: 1 accounts, 0 mismatched" in out.getvalue()
    assert "OK: 2 accounts reconcile" in out.getvalue()
    # Tamper with the cached balance behind the services' back: the command must catch it.
    with tenant_context(tenant_a):
        ReferralAccount.objects.filter(pk=account_a.pk).update(balance_fen=99_999)
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 account"):
        call_command("reconcile_referral_ledger", stdout=io.StringIO(), stderr=err)
    assert (
        f"account {account_a.pk}" in err.getvalue()
        and "cached balance 99999 vs entries 37655" in err.getvalue()
    )


def test_nightly_reconcile_task_notifies_managers_of_a_mismatch_once(tenant_a, manager_a):
    from crm.notifications.models import Notification
    from referrals.tasks import reconcile_all_tenants, reconcile_tenant

    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
    assert reconcile_tenant(tenant_id=tenant_a.pk) == 0
    with tenant_context(tenant_a):
        ReferralAccount.objects.filter(pk=account.pk).update(balance_fen=1)
    assert reconcile_tenant(tenant_id=tenant_a.pk) == 1
    assert reconcile_tenant(tenant_id=tenant_a.pk) == 1
    with tenant_context(tenant_a):
        notification = Notification.objects.get()  # once per day, however often it runs
        assert notification.recipient_id == manager_a.pk and "对账异常" in notification.title
    assert "referrals.reconcile_all_tenants" in reconcile_all_tenants.name


def test_adjustment_retry_with_a_reused_client_key_and_another_amount_is_refused(tenant_a, manager_a):
    """A reused request key must not report a different adjustment as done (as redemption already does)."""
    with tenant_context(tenant_a):
        account = funded_account(tenant_a, 10_000)
        first = ledger.referral_adjust(
            tenant=tenant_a,
            account=account,
            amount_fen=500,
            reason="补发",
            adjusted_by=manager_a,
            client_key="a1",
        )
        again = ledger.referral_adjust(
            tenant=tenant_a,
            account=account,
            amount_fen=500,
            reason="补发",
            adjusted_by=manager_a,
            client_key="a1",
        )
        assert again.pk == first.pk
        with pytest.raises(ValidationError) as error:
            ledger.referral_adjust(
                tenant=tenant_a,
                account=account,
                amount_fen=-2_000,
                reason="扣回",
                adjusted_by=manager_a,
                client_key="a1",
            )
        assert "client_key" in error.value.message_dict
        account.refresh_from_db()
        assert account.balance_fen == 10_500
        assert LedgerEntry.objects.filter(kind=EntryKind.ADJUSTMENT, amount_fen__lt=0).count() == 0
