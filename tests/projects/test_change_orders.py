"""Change-order arithmetic, status machine, immutability, budget; design plan versions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from projects.models import ChangeOrder, ChangeOrderEvent, ChangeOrderLine, DesignPlan, DesignPlanRevision
from projects.services import change_orders, contracts, designs
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db

LINES = [
    {
        "description": "客厅石膏板吊顶",
        "quantity": Decimal("12.5"),
        "unit": "㎡",
        "unit_price_fen": 150,
    },  # 1875
    {
        "description": "取消阳台储物柜",
        "quantity": Decimal("1"),
        "unit": "项",
        "unit_price_fen": -2800,
    },  # -2800
    {"description": "主卧增加插座", "quantity": Decimal("3"), "unit": "个", "unit_price_fen": 85},  # 255
]


@pytest.fixture
def signed(in_a):
    return ProjectFactory(tenant=in_a, signed=True, contract_amount_fen=200000)


def _co(tenant, project, user, lines=LINES, title="客厅吊顶等变更"):
    return change_orders.change_order_create(
        tenant=tenant, project=project, created_by=user, title=title, reason="客户现场提出", lines=lines
    )


def test_line_amounts_and_total(in_a, signed, people):
    co = _co(in_a, signed, people["pm"])
    assert list(co.lines.values_list("amount_fen", flat=True)) == [1875, -2800, 255]
    assert co.amount_delta_fen == -670
    assert co.number == 1
    assert _co(in_a, signed, people["pm"]).number == 2


def test_budget_is_contract_plus_approved_deltas_only(in_a, signed, people):
    approved = _co(
        in_a, signed, people["pm"], lines=[{"description": "加项", "quantity": 2, "unit_price_fen": 5000}]
    )
    rejected = _co(
        in_a, signed, people["pm"], lines=[{"description": "加项2", "quantity": 1, "unit_price_fen": 9000}]
    )
    negative = _co(
        in_a, signed, people["pm"], lines=[{"description": "减项", "quantity": 1, "unit_price_fen": -3000}]
    )
    _co(in_a, signed, people["pm"], lines=[{"description": "草稿", "quantity": 1, "unit_price_fen": 777}])
    for co in (approved, rejected, negative):
        change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    assert change_orders.project_budget(project=signed) == 200000  # sent is not approved
    change_orders.change_order_decide(
        tenant=in_a,
        change_order=approved,
        approve=True,
        channel="staff_in_person",
        decided_by=people["manager"],
    )
    change_orders.change_order_decide(
        tenant=in_a, change_order=rejected, approve=False, channel="staff_phone", decided_by=people["manager"]
    )
    change_orders.change_order_decide(
        tenant=in_a, change_order=negative, approve=True, channel="staff_wechat", decided_by=people["manager"]
    )
    assert change_orders.project_budget(project=signed) == 200000 + 10000 - 3000


def test_status_machine_and_history(in_a, signed, people):
    co = _co(in_a, signed, people["pm"])
    with pytest.raises(ValidationError):  # a draft can't be decided
        change_orders.change_order_decide(
            tenant=in_a, change_order=co, approve=True, channel="staff_phone", decided_by=people["manager"]
        )
    change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    with pytest.raises(ValidationError):
        change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    co = change_orders.change_order_decide(
        tenant=in_a,
        change_order=co,
        approve=True,
        channel="staff_in_person",
        decided_by=people["manager"],
        note="客户签字",
    )
    assert (co.status, co.decided_by, co.decision_channel) == (
        "approved",
        people["manager"],
        "staff_in_person",
    )
    assert list(ChangeOrderEvent.objects.filter(change_order=co).values_list("action", flat=True)) == [
        "created",
        "sent",
        "approved",
    ]


def test_decided_change_order_is_immutable(in_a, signed, people):
    co = _co(in_a, signed, people["pm"])
    change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    change_orders.change_order_decide(
        tenant=in_a, change_order=co, approve=True, channel="staff_phone", decided_by=people["manager"]
    )
    with pytest.raises(ValidationError) as error:
        change_orders.change_order_decide(
            tenant=in_a, change_order=co, approve=False, channel="staff_phone", decided_by=people["manager"]
        )
    assert "不能再次确认" in str(error.value)
    with pytest.raises(ValidationError):
        change_orders.change_order_update(
            tenant=in_a,
            change_order=co,
            updated_by=people["pm"],
            title="改标题",
            lines=[{"description": "x", "quantity": 1, "unit_price_fen": 1}],
        )
    co.refresh_from_db()
    assert (co.status, co.title, co.amount_delta_fen) == ("approved", "客厅吊顶等变更", -670)
    assert ChangeOrderLine.objects.filter(change_order=co).count() == 3


def test_sent_change_order_cannot_be_edited_draft_can(in_a, signed, people):
    co = _co(in_a, signed, people["pm"])
    co = change_orders.change_order_update(
        tenant=in_a,
        change_order=co,
        updated_by=people["pm"],
        lines=[{"description": "改", "quantity": 2, "unit_price_fen": 300}],
    )
    assert co.amount_delta_fen == 600
    change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    with pytest.raises(ValidationError):
        change_orders.change_order_update(
            tenant=in_a, change_order=co, updated_by=people["pm"], title="偷偷改"
        )


def test_bad_change_orders_refused(in_a, signed, people):
    with pytest.raises(ValidationError):
        _co(in_a, signed, people["pm"], lines=[])
    with pytest.raises(ValidationError):
        _co(in_a, signed, people["pm"], lines=[{"description": "x", "quantity": 0, "unit_price_fen": 10}])
    with pytest.raises(ValidationError):
        _co(in_a, ProjectFactory(tenant=in_a), people["pm"])  # not signed
    assert ChangeOrder.objects.count() == 0
    co = _co(in_a, signed, people["pm"])
    change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    with pytest.raises(ValidationError):  # staff decision must name the staff member
        change_orders.change_order_decide(
            tenant=in_a, change_order=co, approve=True, channel="staff_phone", decided_by=None
        )


def test_design_plan_versions_and_choice(in_a, people):
    project = ProjectFactory(tenant=in_a)
    a = designs.design_plan_create(
        tenant=in_a,
        project=project,
        created_by=people["designer"],
        label="方案A",
        title="现代简约",
        style="现代简约",
        cost_min_fen=150000,
        cost_max_fen=180000,
    )
    b = designs.design_plan_create(
        tenant=in_a,
        project=project,
        created_by=people["designer"],
        label="方案B",
        title="新中式",
        cost_min_fen=200000,
        cost_max_fen=260000,
    )
    designs.design_plan_create(
        tenant=in_a,
        project=project,
        created_by=people["designer"],
        label="方案C",
        title="北欧",
        cost_min_fen=160000,
        cost_max_fen=190000,
    )
    with pytest.raises(ValidationError):
        designs.design_plan_create(
            tenant=in_a,
            project=project,
            created_by=people["designer"],
            label="方案D",
            title="工业风",
            cost_min_fen=1,
            cost_max_fen=2,
        )
    a = designs.design_plan_revise(
        tenant=in_a,
        plan=a,
        revised_by=people["manager"],
        change_note="客户要求降预算",
        cost_min_fen=140000,
        cost_max_fen=170000,
    )
    assert a.version == 2
    revisions = list(DesignPlanRevision.objects.filter(plan=a).order_by("version"))
    assert [(r.version, r.cost_max_fen, r.changed_by) for r in revisions] == [
        (1, 180000, people["designer"]),
        (2, 170000, people["manager"]),
    ]
    with pytest.raises(ValidationError):
        designs.design_plan_revise(tenant=in_a, plan=a, revised_by=people["designer"], cost_min_fen=300000)
    assert DesignPlan.objects.get(pk=a.pk).version == 2
    designs.design_plan_choose(tenant=in_a, plan=a, chosen_by=people["designer"])
    designs.design_plan_choose(tenant=in_a, plan=b, chosen_by=people["designer"])
    assert list(DesignPlan.objects.filter(project=project, is_chosen=True)) == [b]


def test_database_refuses_rewriting_a_decided_change_order(in_a, signed, people):
    from django.db import IntegrityError, transaction

    co = _co(in_a, signed, people["pm"])
    change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    change_orders.change_order_decide(
        tenant=in_a, change_order=co, approve=True, channel="staff_phone", decided_by=people["manager"]
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeOrder.objects.filter(pk=co.pk).update(amount_delta_fen=99999)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeOrderLine.objects.filter(change_order=co).update(amount_fen=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChangeOrderLine.objects.create(
            tenant=in_a, change_order=co, description="偷加", quantity=1, unit_price_fen=1, amount_fen=1
        )
    ChangeOrder.objects.filter(pk=co.pk).update(decided_by=None)  # a deleted staff account may be nulled
    co.refresh_from_db()
    assert (co.status, co.amount_delta_fen, co.lines.count()) == ("approved", -670, 3)


def test_cancelled_contract_takes_no_change_orders_and_budget_stays(in_a, signed, people):
    """After the contract is cancelled a pending order can't be approved (budget would still move)."""
    co = _co(in_a, signed, people["pm"])
    change_orders.change_order_send(tenant=in_a, change_order=co, sent_by=people["pm"])
    draft = _co(in_a, signed, people["pm"])
    contracts.contract_cancel(tenant=in_a, project=signed, cancelled_by=people["manager"], reason="客户退单")
    with pytest.raises(ValidationError):
        change_orders.change_order_decide(
            tenant=in_a, change_order=co, approve=True, channel="staff_phone", decided_by=people["pm"]
        )
    with pytest.raises(ValidationError):
        change_orders.change_order_send(tenant=in_a, change_order=draft, sent_by=people["pm"])
    with pytest.raises(ValidationError):
        _co(in_a, signed, people["pm"])
    co.refresh_from_db()
    assert co.status == "sent"
    assert change_orders.project_budget(project=signed) == 200000
