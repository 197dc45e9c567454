"""The issue's example, end to end: a ¥186,000 contract and a change order with lines 12.35 × ¥88 and
−¥1,200 move the budget to exactly ¥185,886.80 (18,588,680 fen) — not ¥185,887 as when every line
was rounded to whole yuan. Through the real services, the API (integer fen in ``*_fen`` fields) and
the pages (people type and read yuan)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from crm.tenancy import tenant_context
from projects.models import ChangeOrder, ChangeOrderLine, Project
from projects.services import change_orders
from tests.projects.factories import ProjectFactory
from tests.projects.test_api import api  # noqa: F401 - the per-role API clients fixture

pytestmark = pytest.mark.django_db

EXACT_BUDGET_FEN = 18_588_680


def test_issue_example_through_the_api_is_exact_to_the_fen(api, tenant_a):  # noqa: F811
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    signed = api["sales"].post(
        f"/api/v1/projects/{project.pk}/sign/",
        {
            "contract_number": "HT-FEN-1",
            "contract_amount_fen": 18_600_000,
            "signed_on": str(timezone.localdate()),
        },
        format="json",
    )
    assert signed.status_code == 200, signed.json()
    assert signed.json()["contract_amount_fen"] == 18_600_000
    created = api["pm"].post(
        "/api/v1/change-orders/",
        {
            "project": project.pk,
            "title": "阳台瓷砖与储物柜",
            "reason": "客户现场确认",
            "lines": [
                {"description": "阳台瓷砖", "quantity": "12.35", "unit": "㎡", "unit_price_fen": 8_800},
                {"description": "取消储物柜", "quantity": "1", "unit": "项", "unit_price_fen": -120_000},
            ],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert [line["amount_fen"] for line in body["lines"]] == [108_680, -120_000]  # ¥1,086.80, not ¥1,087
    assert body["amount_delta_fen"] == -11_320
    assert api["pm"].post(f"/api/v1/change-orders/{body['id']}/send/").status_code == 200
    decided = api["manager"].post(
        f"/api/v1/change-orders/{body['id']}/decide/",
        {"approve": True, "channel": "staff_in_person", "note": "业主签字"},
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    assert api["manager"].get(f"/api/v1/projects/{project.pk}/").json()["budget_fen"] == EXACT_BUDGET_FEN
    with tenant_context(tenant_a):
        assert change_orders.project_budget(project=Project.objects.get(pk=project.pk)) == EXACT_BUDGET_FEN


@pytest.mark.parametrize(
    "bad_line",
    [
        {"description": "x", "quantity": "1", "unit_price_fen": 12.5},  # fen are whole
        {"description": "x", "quantity": "1", "unit_price_fen": "12.5"},
        {"description": "x", "quantity": "1", "unit_price_fen": 10**13},  # past MONEY_MAX
        {"description": "x", "quantity": "1", "unit_price_fen": True},
    ],
)
def test_api_refuses_a_unit_price_that_is_not_whole_fen(api, tenant_a, bad_line):  # noqa: F811
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True)
    response = api["pm"].post(
        "/api/v1/change-orders/",
        {"project": project.pk, "title": "t", "reason": "r", "lines": [bad_line]},
        format="json",
    )
    assert response.status_code == 400, response.json()
    with tenant_context(tenant_a):
        assert not ChangeOrder.objects.filter(project=project).exists()


def test_issue_example_through_the_pages_in_yuan(tenant_a, people, session_client):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    client = session_client(people["manager"])
    signed = client.post(
        reverse("projects:sign", args=[project.pk]),
        {
            "contract_number": "HT-FEN-2",
            "contract_amount_fen": "186,000",
            "signed_on": str(timezone.localdate()),
        },
    )
    assert signed.status_code == 302
    created = client.post(
        reverse("projects:change-order-create", args=[project.pk]),
        {
            "title": "阳台瓷砖与储物柜",
            "reason": "客户现场确认",
            "lines": "阳台瓷砖|12.35|㎡|88\n取消储物柜|1|项|-1200",
        },
    )
    assert created.status_code == 302
    with tenant_context(tenant_a):
        project = Project.objects.get(pk=project.pk)
        assert project.contract_amount_fen == 18_600_000
        change_order = ChangeOrder.objects.get(project=project)
        lines = list(
            ChangeOrderLine.objects.filter(change_order=change_order).values_list(
                "unit_price_fen", "amount_fen"
            )
        )
        assert lines == [(8_800, 108_680), (-120_000, -120_000)]
        change_orders.change_order_send(tenant=tenant_a, change_order=change_order, sent_by=people["pm"])
        change_orders.change_order_decide(
            tenant=tenant_a,
            change_order=change_order,
            approve=True,
            channel="staff_phone",
            decided_by=people["manager"],
        )
    page = client.get(
        reverse("projects:detail", args=[project.pk]), {"tab": "change_orders"}
    ).content.decode()
    assert "¥186,000.00 / ¥185,886.80" in page
    assert "¥1,086.80" in page and "-¥1,200.00" in page and "-¥113.20" in page


def test_a_unit_price_typed_with_three_decimals_is_refused_on_the_page(tenant_a, people, session_client):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True)
    response = session_client(people["pm"]).post(
        reverse("projects:change-order-create", args=[project.pk]),
        {"title": "t", "reason": "r", "lines": "瓷砖|1|㎡|12.345"},
    )
    assert response.status_code == 400
    assert "两位小数" in response.content.decode()
    with tenant_context(tenant_a):
        assert not ChangeOrder.objects.filter(project=project).exists()
