"""The managers' page for monthly targets and channel spend (until now only API/admin)."""

from __future__ import annotations

import datetime

from analytics.models import ChannelSpend, SalesTarget
from crm.tenancy import tenant_context


def _post(client, month: str, data: dict):
    return client.post(f"/dashboard/targets/?month={month}", data)


def test_manager_sets_user_and_team_targets_and_spend(session_client, tenant_a, manager_a, month_a):
    client = session_client(manager_a)
    page = client.get("/dashboard/targets/?month=2025-03").content.decode()
    # The conftest's March target of s1 (400 000 fen) and douyin spend (31 000 fen) are prefilled in yuan.
    assert f'name="target-{month_a.s1.pk}-contract_value_fen"' in page and 'value="4000.00"' in page
    assert 'name="spend-douyin"' in page and 'value="310.00"' in page
    response = _post(
        client,
        "2025-03",
        {
            f"target-{month_a.s1.pk}-contract_value_fen": "",  # blanked: the target goes away
            f"target-{month_a.s2.pk}-contract_value_fen": "300000",
            f"target-{month_a.s2.pk}-signed_count": "2",
            "target-team-contract_value_fen": "900000",
            "spend-douyin": "",
            "spend-xiaohongshu": "8000.5",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("?month=2025-03")
    march = datetime.date(2025, 3, 1)
    with tenant_context(tenant_a):
        targets = {
            t.user_id: (t.contract_value_fen, t.signed_count) for t in SalesTarget.objects.filter(month=march)
        }
        spend = dict(ChannelSpend.objects.filter(month=march).values_list("channel", "amount_fen"))
    assert targets == {month_a.s2.pk: (30_000_000, 2), None: (90_000_000, 0)}  # typed yuan, stored fen
    assert spend == {"xiaohongshu": 800_050}
    # The sales panel reads them: s2's target, and the team target instead of the sum.
    api = client.get("/api/v1/analytics/sales/?range=custom&start=2025-03-01&end=2025-03-31").json()
    kpis = {kpi["key"]: kpi["value"] for kpi in api["kpis"]}
    assert kpis["target"] == 90_000_000


def test_bad_input_is_400_with_field_messages(session_client, manager_a, month_a):
    response = _post(
        session_client(manager_a), "2025-03", {"spend-douyin": "-5", "target-team-signed_count": "x"}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "金额不能为负数" in page or "negative" in page
    with tenant_context(manager_a.tenant):
        assert ChannelSpend.objects.get(channel="douyin").amount_fen == 31_000  # nothing half-written


def test_only_managers_open_the_page(session_client, month_a):
    assert session_client(month_a.s1).get("/dashboard/targets/").status_code == 403
    assert session_client(month_a.s1).post("/dashboard/targets/", {}).status_code == 403


def test_another_tenants_targets_are_neither_shown_nor_changed(session_client, admin_b, tenant_a, month_a):
    client = session_client(admin_b)
    page = client.get("/dashboard/targets/?month=2025-03").content.decode()
    assert "400000" not in page and "31000" not in page and month_a.s1.display_name not in page
    assert _post(client, "2025-03", {"spend-douyin": "1"}).status_code == 302
    with tenant_context(tenant_a):
        douyin = ChannelSpend.objects.get(channel="douyin", month=datetime.date(2025, 3, 1))
        assert douyin.amount_fen == 31_000
