"""Payment milestones (回款): plans from contracts exact to the fen, stage triggers, change-order
adjustments, receipts allocated in order and never above what is owed, voids, the referral fund as a
payment method, overdue reminders once, and the API / pages with their permissions."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from crm import events
from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from payments import selectors, services
from payments.models import PaymentMilestone, PaymentPlan, PaymentReceipt, PlanChangeKind
from projects.models import Stage
from projects.services import change_orders, contracts
from referrals.models import ReferralAccount
from referrals.services.accounts import referral_account_ensure
from referrals.services.ledger import referral_adjust
from tests.payments.factories import signed_plan
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate


@pytest.fixture
def people(tenant_a, make_staff):
    return {
        "finance": make_staff(tenant_a, Role.FINANCE),
        "manager": make_staff(tenant_a, Role.MANAGER),
        "sales": make_staff(tenant_a, Role.SALES),
    }


def _amounts(plan: PaymentPlan) -> list[int]:
    return list(plan.milestones.order_by("position").values_list("amount_fen", flat=True))


def test_signing_creates_the_plan_exact_to_the_fen(tenant_a, people, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, customer__owner=people["sales"])
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        contracts.contract_sign(
            tenant=tenant_a,
            project=project,
            signed_by=people["sales"],
            contract_number="HT-PAY-1",
            contract_amount_fen=18_600_001,  # ¥186,000.01
            signed_on=TODAY(),
        )
    with tenant_context(tenant_a):
        plan = PaymentPlan.objects.get(project=project)
        # 30 / 40 / 30: the last instalment takes the remainder, so the parts add up to the contract
        assert _amounts(plan) == [5_580_000, 7_440_000, 5_580_001]
        first, middle, last = plan.milestones.order_by("position")
        assert first.due_on == TODAY() + datetime.timedelta(days=7) and middle.due_on is None
        assert plan.changes.get().kind == PlanChangeKind.CREATED
        # the event is handled once: a repeat changes nothing
        assert services.payment_plan_for_project(tenant=tenant_a, project_id=project.pk) == plan
        assert PaymentMilestone.objects.filter(plan=plan).count() == 3


def test_reaching_the_stage_makes_the_instalment_due_and_tells_owner_and_finance_once(tenant_a, people):
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a)
        plan.customer.owner = people["sales"]
        plan.customer.save()
        assert (
            services.payment_milestones_trigger(
                tenant=tenant_a, project_id=plan.project_id, stage=Stage.MASONRY
            )
            == 1
        )
        middle = plan.milestones.get(position=2)
        assert middle.due_on == TODAY() + datetime.timedelta(days=7)
        told = set(Notification.objects.filter(kind="payment_due").values_list("recipient_id", flat=True))
        assert told == {people["sales"].pk, people["finance"].pk}
        # the same stage again (or a later one) does not remind twice
        services.payment_milestones_trigger(tenant=tenant_a, project_id=plan.project_id, stage=Stage.MASONRY)
        assert Notification.objects.filter(kind="payment_due").count() == 2


def test_stage_event_through_the_outbox_triggers(tenant_a, people, django_capture_on_commit_callbacks):
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant_a):
        events.publish(
            events.EventType.PROJECT_STAGE_CHANGED,
            tenant=tenant_a,
            project_id=plan.project_id,
            customer_id=plan.customer_id,
            from_stage=Stage.PLUMBING_ELECTRICAL,
            to_stage=Stage.MASONRY,
        )
    with tenant_context(tenant_a):
        assert plan.milestones.get(position=2).triggered_at is not None
        assert plan.milestones.get(position=3).triggered_at is None


def test_receipts_are_allocated_in_order_and_never_exceed_what_is_owed(tenant_a, people):
    finance = people["finance"]
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a, amount_fen=1_000_000)  # ¥10,000: 3,000 / 4,000 / 3,000
        receipt = services.payment_receipt_record(
            tenant=tenant_a,
            plan=plan,
            amount_fen=400_000,
            method="bank_transfer",
            received_on=TODAY(),
            recorded_by=finance,
            receipt_number="R-1",
        )
        assert sorted(receipt.allocations.values_list("milestone__position", "amount_fen")) == [
            (1, 300_000),
            (2, 100_000),
        ]
        rows = selectors.plan_milestones(plan=plan, today=TODAY())
        assert [(r.paid_fen, r.outstanding_fen) for r in rows] == [
            (300_000, 0),
            (100_000, 300_000),
            (0, 300_000),
        ]
        listed = selectors.plans_for_list(today=TODAY()).get(pk=plan.pk)
        assert (listed.received_fen, listed.outstanding_fen) == (400_000, 600_000)
        for amount, field, code in [
            (600_001, "amount_fen", "exceeds_outstanding"),
            (0, "amount_fen", "invalid_amount"),
        ]:
            with pytest.raises(ValidationError) as error:
                services.payment_receipt_record(
                    tenant=tenant_a,
                    plan=plan,
                    amount_fen=amount,
                    method="cash",
                    received_on=TODAY(),
                    recorded_by=finance,
                )
            assert error.value.error_dict[field][0].code == code
        with pytest.raises(ValidationError) as error:
            services.payment_receipt_record(
                tenant=tenant_a,
                plan=plan,
                amount_fen=100,
                method="cash",
                received_on=TODAY() + datetime.timedelta(days=1),
                recorded_by=finance,
            )
        assert error.value.error_dict["received_on"][0].code == "in_future"
        with pytest.raises(ValidationError) as error:
            services.payment_receipt_record(
                tenant=tenant_a,
                plan=plan,
                amount_fen=100,
                method="cash",
                received_on=TODAY(),
                recorded_by=finance,
                receipt_number="R-1",
            )
        assert error.value.error_dict["receipt_number"][0].code == "duplicate_receipt"
        assert PaymentReceipt.objects.count() == 1  # nothing written by the refused ones
        # a chosen instalment is paid first
        last = plan.milestones.get(position=3)
        chosen = services.payment_receipt_record(
            tenant=tenant_a,
            plan=plan,
            amount_fen=50_000,
            method="wechat",
            received_on=TODAY(),
            recorded_by=finance,
            milestone=last,
        )
        assert list(chosen.allocations.values_list("milestone__position", flat=True)) == [3]
        # voiding frees the allocation and keeps the record
        services.payment_receipt_void(tenant=tenant_a, receipt=receipt, voided_by=finance, reason="录错金额")
        listed = selectors.plans_for_list(today=TODAY()).get(pk=plan.pk)
        assert (listed.received_fen, listed.outstanding_fen) == (50_000, 950_000)
        assert PaymentReceipt.objects.get(pk=receipt.pk).void_reason == "录错金额"


def test_sales_may_not_record(tenant_a, people):
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a)
        with pytest.raises(PermissionDenied):
            services.payment_receipt_record(
                tenant=tenant_a,
                plan=plan,
                amount_fen=100,
                method="cash",
                received_on=TODAY(),
                recorded_by=people["sales"],
            )
        assert not PaymentReceipt.objects.exists()


def test_change_orders_adjust_the_plan_once(tenant_a, people):
    pm = people["manager"]
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a, amount_fen=18_600_000)
        order = change_orders.change_order_create(
            tenant=tenant_a,
            project=plan.project,
            created_by=pm,
            title="阳台瓷砖与储物柜",
            reason="现场确认",
            lines=[
                {"description": "阳台瓷砖", "quantity": "12.35", "unit": "㎡", "unit_price_fen": 8_800},
                {"description": "取消储物柜", "quantity": "1", "unit": "项", "unit_price_fen": -120_000},
            ],
        )
        change_orders.change_order_send(tenant=tenant_a, change_order=order, sent_by=pm)
        change_orders.change_order_decide(
            tenant=tenant_a, change_order=order, approve=True, channel="staff_in_person", decided_by=pm
        )
        services.payment_plan_apply_change_order(tenant=tenant_a, change_order_id=order.pk)
        services.payment_plan_apply_change_order(tenant=tenant_a, change_order_id=order.pk)  # repeat: no-op
        plan.refresh_from_db()
        # −¥113.20 comes off the unpaid last instalment; the plan equals the project's exact budget
        assert plan.adjustments_fen == -11_320
        assert sum(_amounts(plan)) == 18_588_680 == change_orders.project_budget(project=plan.project)
        assert _amounts(plan) == [5_580_000, 7_440_000, 5_568_680]
        assert plan.changes.filter(kind=PlanChangeKind.CHANGE_ORDER).count() == 1


def test_a_decrease_never_unpays_received_money(tenant_a, people):
    finance, pm = people["finance"], people["manager"]
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a, amount_fen=1_000_000)
        services.payment_receipt_record(
            tenant=tenant_a,
            plan=plan,
            amount_fen=1_000_000,
            method="bank_transfer",
            received_on=TODAY(),
            recorded_by=finance,
        )
        order = change_orders.change_order_create(
            tenant=tenant_a,
            project=plan.project,
            created_by=pm,
            title="取消吊顶",
            reason="客户取消",
            lines=[{"description": "吊顶", "quantity": "1", "unit": "项", "unit_price_fen": -50_000}],
        )
        change_orders.change_order_send(tenant=tenant_a, change_order=order, sent_by=pm)
        change_orders.change_order_decide(
            tenant=tenant_a, change_order=order, approve=True, channel="staff_phone", decided_by=pm
        )
        services.payment_plan_apply_change_order(tenant=tenant_a, change_order_id=order.pk)
        listed = selectors.plans_for_list(today=TODAY()).get(pk=plan.pk)
        assert (listed.total_amount_fen, listed.received_fen, listed.outstanding_fen) == (
            950_000,
            1_000_000,
            -50_000,
        )


def test_referral_fund_pays_and_a_void_gives_it_back(tenant_a, people):
    finance = people["finance"]
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a, amount_fen=1_000_000)
        account = referral_account_ensure(tenant=tenant_a, customer=plan.customer)
        referral_adjust(
            tenant=tenant_a,
            account=account,
            amount_fen=80_000,
            reason="活动奖励",
            adjusted_by=people["manager"],
        )
        receipt = services.payment_receipt_record(
            tenant=tenant_a,
            plan=plan,
            amount_fen=50_000,
            method="referral_fund",
            received_on=TODAY(),
            recorded_by=finance,
        )
        assert ReferralAccount.objects.get(pk=account.pk).balance_fen == 30_000
        assert receipt.ledger_entry is not None and receipt.ledger_entry.amount_fen == -50_000
        # more than the fund holds: refused by the ledger, nothing recorded
        with pytest.raises(ValidationError):
            services.payment_receipt_record(
                tenant=tenant_a,
                plan=plan,
                amount_fen=40_000,
                method="referral_fund",
                received_on=TODAY(),
                recorded_by=finance,
            )
        assert PaymentReceipt.objects.count() == 1
        services.payment_receipt_void(
            tenant=tenant_a, receipt=receipt, voided_by=finance, reason="客户改用现金"
        )
        assert ReferralAccount.objects.get(pk=account.pk).balance_fen == 80_000


def test_overdue_scan_tells_once_and_skips_paid(tenant_a, people):
    finance = people["finance"]
    with tenant_context(tenant_a):
        unpaid = signed_plan(tenant_a)
        paid = signed_plan(tenant_a, amount_fen=1_000_000)
        services.payment_receipt_record(
            tenant=tenant_a,
            plan=paid,
            amount_fen=300_000,
            method="cash",
            received_on=TODAY(),
            recorded_by=finance,
        )
        later = TODAY() + datetime.timedelta(days=8)  # the first instalments were due in 7 days
        assert services.payments_overdue_scan(tenant=tenant_a, today=later) == 1
        assert services.payments_overdue_scan(tenant=tenant_a, today=later) == 0
        overdue = Notification.objects.filter(kind="payment_overdue")
        assert overdue.count() == 1 and overdue.get().link == f"/payments/{unpaid.pk}/"
        listed = selectors.plans_for_list(today=later).get(pk=unpaid.pk)
        assert listed.overdue_fen == unpaid.milestones.get(position=1).amount_fen


def test_api_lists_records_and_voids(tenant_a, people):
    client = APIClient()  # finance staff do not mint tokens: their session works on the API too
    client.force_login(people["finance"], backend="django.contrib.auth.backends.ModelBackend")
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a, amount_fen=1_000_000)
        first, second = (plan.milestones.get(position=n).pk for n in (1, 2))
    created = client.post(
        "/api/v1/payment-receipts/",
        {
            "plan": plan.pk,
            "amount_fen": 350_000,
            "method": "alipay",
            "received_on": str(TODAY()),
            "receipt_number": "A-9",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    assert created.json()["allocations"] == [
        {"milestone": first, "amount_fen": 300_000},
        {"milestone": second, "amount_fen": 50_000},
    ]
    too_much = client.post(
        "/api/v1/payment-receipts/",
        {"plan": plan.pk, "amount_fen": 650_001, "method": "cash", "received_on": str(TODAY())},
        format="json",
    )
    assert too_much.status_code == 400 and too_much.json()["codes"]["amount_fen"] == ["exceeds_outstanding"]
    detail = client.get(f"/api/v1/payment-plans/{plan.pk}/").json()
    assert (detail["received_fen"], detail["outstanding_fen"]) == (350_000, 650_000)
    assert [m["paid_fen"] for m in detail["milestones"]] == [300_000, 50_000, 0]
    voided = client.post(
        f"/api/v1/payment-receipts/{created.json()['id']}/void/", {"reason": "重复登记"}, format="json"
    )
    assert voided.status_code == 200 and voided.json()["voided_at"]
    assert client.get(f"/api/v1/payment-plans/{plan.pk}/").json()["received_fen"] == 0
    template = client.get("/api/v1/payment-template/").json()
    assert [step["share_bp"] for step in template["steps"]] == [3000, 4000, 3000]
    assert (
        client.put("/api/v1/payment-template/", template, format="json").status_code == 403
    )  # finance reads only


def test_template_is_validated_and_used_for_new_contracts(tenant_a, people, token_client):
    client = token_client(people["manager"])
    bad = client.put(
        "/api/v1/payment-template/",
        {
            "steps": [
                {"name": "首付", "share_bp": 5000, "trigger": "signing"},
                {"name": "尾款", "share_bp": 4000, "trigger": "handover"},
            ]
        },
        format="json",
    )
    assert bad.status_code == 400 and bad.json()["codes"]["steps"] == ["shares_not_100"]
    good = client.put(
        "/api/v1/payment-template/",
        {
            "steps": [
                {"name": "定金", "share_bp": 5000, "trigger": "signing", "due_days": 3},
                {"name": "尾款", "share_bp": 5000, "trigger": "handover"},
            ]
        },
        format="json",
    )
    assert good.status_code == 200, good.json()
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a, amount_fen=100_001)
        assert _amounts(plan) == [50_001, 50_000]  # half-up on the first, the remainder last
        assert plan.milestones.get(position=1).due_on == TODAY() + datetime.timedelta(days=3)


def test_pages_for_finance_and_sales(tenant_a, people, session_client):
    with tenant_context(tenant_a):
        plan = signed_plan(tenant_a, amount_fen=1_000_000)
    client = session_client(people["finance"])
    assert client.get("/payments/").status_code == 200
    page = client.get(f"/payments/{plan.pk}/").content.decode()
    assert "¥3,000.00" in page and "¥10,000.00" in page
    recorded = client.post(
        f"/payments/{plan.pk}/",
        {"action": "record", "amount_fen": "3000.5", "method": "cash", "received_on": str(TODAY())},
    )
    assert recorded.status_code == 302
    with tenant_context(tenant_a):
        assert PaymentReceipt.objects.get().amount_fen == 300_050
    over = client.post(
        f"/payments/{plan.pk}/",
        {"action": "record", "amount_fen": "7000", "method": "cash", "received_on": str(TODAY())},
    )
    assert over.status_code == 400 and "未收金额" in over.content.decode()
    sales = session_client(people["sales"])
    refused = sales.post(
        f"/payments/{plan.pk}/",
        {"action": "record", "amount_fen": "1", "method": "cash", "received_on": str(TODAY())},
    )
    assert refused.status_code == 403
    with tenant_context(tenant_a):
        assert PaymentReceipt.objects.count() == 1


def test_plan_list_costs_the_same_queries_for_more_plans(tenant_a, people):
    """Milestones come prefetched with their paid amounts: one query per page, not one per plan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = APIClient()
    client.force_login(people["finance"], backend="django.contrib.auth.backends.ModelBackend")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/v1/payment-plans/").status_code == 200
        return len(captured)

    with tenant_context(tenant_a):
        signed_plan(tenant_a)
    few = queries()
    with tenant_context(tenant_a):
        for _ in range(4):
            signed_plan(tenant_a)
    body = client.get("/api/v1/payment-plans/").json()
    assert len(body["results"]) == 5 and all(len(plan["milestones"]) == 3 for plan in body["results"])
    assert queries() == few
