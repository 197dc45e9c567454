"""Quotations: totals exact in fen, versions, discount approval, bad input (nothing written)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from crm.notifications.models import Notification
from quotes.models import DiscountApproval, Quotation, QuotationLine, QuotationStatus, QuoteSettings
from quotes.services import quotations
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory
from tests.quotes.factories import make_item, make_package

pytestmark = pytest.mark.django_db


def codes(error: ValidationError) -> set[str]:
    """Every code in a (nested) ValidationError."""
    found: set[str] = set()
    stack = [error]
    while stack:
        current = stack.pop()
        if hasattr(current, "error_dict"):
            stack.extend(inner for errors in current.error_dict.values() for inner in errors)
        elif len(current.error_list) > 1 or current.error_list[0] is not current:
            stack.extend(current.error_list)
        else:
            found.add(current.code)
    return found


@pytest.fixture
def draft(in_a, people):
    customer = CustomerFactory(tenant=in_a, owner=people["sales"])
    project = ProjectFactory(tenant=in_a, customer=customer, area_sqm=Decimal("89.50"))
    return quotations.quotation_create(
        tenant=in_a, actor=people["sales"], customer=customer, project=project, title="全屋整装报价"
    )


def test_totals_are_exact_in_fen_from_items_packages_and_free_lines(in_a, people, draft):
    tile = make_item(in_a, unit_price_fen=1_235)  # ¥12.35 / ㎡
    package = make_package(in_a, price_per_sqm_fen=128_833)  # ¥1,288.33 / ㎡
    quotation = quotations.quotation_set_lines(
        tenant=in_a,
        actor=people["sales"],
        quotation=draft,
        lines=[
            {"kind": "item", "catalogue_item": tile, "quantity": "88"},
            {"kind": "package", "package": package},  # quantity = the area, 89.50 ㎡ from the project
            {"kind": "free", "name": "拆旧", "unit": "项", "unit_price_fen": 33_333, "quantity": "0.333"},
        ],
    )
    lines = list(quotation.lines.order_by("position"))
    assert [line.amount_fen for line in lines] == [108_680, 11_530_554, 11_100]  # 11,530,553.5 rounds half up
    assert lines[1].quantity == Decimal("89.500")
    assert quotation.subtotal_fen == 108_680 + 11_530_554 + 11_100
    assert quotation.total_fen == quotation.subtotal_fen
    # the catalogue changes later: the quotation keeps its snapshot
    tile.unit_price_fen = 9_999
    tile.save()
    assert QuotationLine.objects.get(pk=lines[0].pk).unit_price_fen == 1_235


def test_revision_keeps_the_sent_version_read_only(in_a, people, draft):
    quotations.quotation_add_line(
        tenant=in_a,
        actor=people["sales"],
        quotation=draft,
        line={"kind": "free", "name": "设计费", "unit": "㎡", "unit_price_fen": 5_000, "quantity": "100"},
    )
    v1 = quotations.quotation_send(tenant=in_a, actor=people["sales"], quotation=draft)
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_add_line(
            tenant=in_a,
            actor=people["sales"],
            quotation=v1,
            line={"kind": "free", "name": "x", "unit": "项", "unit_price_fen": 1, "quantity": "1"},
        )
    assert "quotation_not_editable" in codes(raised.value)
    v2 = quotations.quotation_revise(tenant=in_a, actor=people["sales"], quotation=v1)
    assert (v2.number, v2.version, v2.status) == (v1.number, 2, QuotationStatus.DRAFT)
    assert v2.lines.count() == 1 and v2.total_fen == 500_000
    quotations.quotation_add_line(
        tenant=in_a,
        actor=people["sales"],
        quotation=v2,
        line={"kind": "free", "name": "管理费", "unit": "项", "unit_price_fen": 20_000, "quantity": "1"},
    )
    v1.refresh_from_db()
    v2.refresh_from_db()
    assert v1.status == QuotationStatus.SUPERSEDED and v1.total_fen == 500_000 and v1.lines.count() == 1
    assert v2.total_fen == 520_000
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_revise(tenant=in_a, actor=people["sales"], quotation=v1)
    assert "not_latest_version" in codes(raised.value)
    assert list(
        Quotation.objects.filter(number=v1.number).values_list("version", flat=True).order_by("version")
    ) == [
        1,
        2,
    ]


def _with_subtotal(in_a, people, draft, fen: int):
    return quotations.quotation_add_line(
        tenant=in_a,
        actor=people["sales"],
        quotation=draft,
        line={"kind": "free", "name": "全包", "unit": "项", "unit_price_fen": fen, "quantity": "1"},
    )


def test_discount_above_threshold_waits_for_a_manager_who_is_notified(in_a, people, draft):
    QuoteSettings.objects.update_or_create(tenant=in_a, defaults={"approval_threshold_bp": 500})
    _with_subtotal(in_a, people, draft, 10_000_000)  # ¥100,000
    within = quotations.quotation_set_discount(
        tenant=in_a, actor=people["sales"], quotation=draft, kind="amount", amount_fen=500_000
    )  # exactly 5 %: no approval
    assert within.discount_approval == DiscountApproval.NOT_NEEDED and within.total_fen == 9_500_000
    above = quotations.quotation_set_discount(
        tenant=in_a, actor=people["sales"], quotation=draft, kind="percent", percent_bp=850
    )
    assert (above.discount_fen, above.total_fen) == (850_000, 9_150_000)
    assert above.discount_approval == DiscountApproval.PENDING
    notified = Notification.objects.filter(kind="quotes.discount_approval")
    assert set(notified.values_list("recipient", flat=True)) == {people["manager"].pk}
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_send(tenant=in_a, actor=people["sales"], quotation=above)
    assert "discount_pending_approval" in codes(raised.value)
    with pytest.raises(Exception):  # a sales rep may not approve
        quotations.quotation_decide_discount(
            tenant=in_a, actor=people["sales"], quotation=above, approve=True
        )
    approved = quotations.quotation_decide_discount(
        tenant=in_a, actor=people["manager"], quotation=above, approve=True, note="老客户"
    )
    assert approved.discount_approval == DiscountApproval.APPROVED
    sent = quotations.quotation_send(tenant=in_a, actor=people["sales"], quotation=approved)
    assert sent.status == QuotationStatus.SENT and sent.total_fen == 9_150_000


def test_rejected_discount_blocks_sending_until_changed(in_a, people, draft):
    _with_subtotal(in_a, people, draft, 1_000_000)
    pending = quotations.quotation_set_discount(
        tenant=in_a, actor=people["sales"], quotation=draft, kind="amount", amount_fen=200_000
    )
    rejected = quotations.quotation_decide_discount(
        tenant=in_a, actor=people["manager"], quotation=pending, approve=False
    )
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_send(tenant=in_a, actor=people["sales"], quotation=rejected)
    assert "discount_rejected" in codes(raised.value)
    smaller = quotations.quotation_set_discount(
        tenant=in_a, actor=people["sales"], quotation=rejected, kind="amount", amount_fen=10_000
    )
    assert smaller.discount_approval == DiscountApproval.NOT_NEEDED
    assert quotations.quotation_send(tenant=in_a, actor=people["sales"], quotation=smaller).status == "sent"


@pytest.mark.parametrize(
    ("line", "code"),
    [
        (
            {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": -1, "quantity": "1"},
            "negative_money",
        ),
        (
            {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": 100, "quantity": "1.2345"},
            "quantity_too_precise",
        ),
        (
            {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": 100, "quantity": "-2"},
            "quantity_not_positive",
        ),
        (
            {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": 100, "quantity": "abc"},
            "invalid_quantity",
        ),
        (
            {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": 100, "quantity": 1.5},
            "invalid_quantity",
        ),
        (
            {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": 100, "quantity": "1e999999"},
            "quantity_too_large",
        ),
        (
            {
                "kind": "free",
                "name": "x",
                "unit": "项",
                "unit_price_fen": 100,
                "quantity": "1.0000000000000000000000000000001",
            },
            "quantity_too_precise",
        ),
        ({"kind": "item", "catalogue_item": None, "quantity": "1"}, "item_required"),
    ],
)
def test_bad_lines_are_refused_and_nothing_is_written(in_a, people, draft, line, code):
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_add_line(tenant=in_a, actor=people["sales"], quotation=draft, line=line)
    assert code in codes(raised.value)
    draft.refresh_from_db()
    assert draft.lines.count() == 0 and draft.total_fen == 0


def test_discount_beyond_total_is_refused(in_a, people, draft):
    _with_subtotal(in_a, people, draft, 10_000)
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_set_discount(
            tenant=in_a, actor=people["sales"], quotation=draft, kind="amount", amount_fen=10_001
        )
    assert "discount_exceeds_total" in codes(raised.value)
    draft.refresh_from_db()
    assert (draft.discount_kind, draft.discount_fen, draft.total_fen) == ("none", 0, 10_000)
    with pytest.raises(ValidationError) as raised:
        quotations.parse_percent("8.555")
    assert "percent_too_precise" in codes(raised.value)


def test_removing_lines_below_an_amount_discount_is_refused(in_a, people, draft):
    line = _with_subtotal(in_a, people, draft, 10_000)
    quotations.quotation_set_discount(
        tenant=in_a, actor=people["sales"], quotation=draft, kind="amount", amount_fen=100
    )
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_remove_line(tenant=in_a, actor=people["sales"], quotation=draft, line_id=line.pk)
    assert "discount_exceeds_total" in codes(raised.value)
    assert draft.lines.count() == 1


def test_project_of_another_customer_is_refused(in_a, people):
    customer = CustomerFactory(tenant=in_a)
    other = ProjectFactory(tenant=in_a)
    with pytest.raises(ValidationError) as raised:
        quotations.quotation_create(
            tenant=in_a, actor=people["sales"], customer=customer, project=other, title="x"
        )
    assert "project_not_of_customer" in codes(raised.value)
    assert not Quotation.objects.exists()
