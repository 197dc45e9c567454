"""Every panel's figures on the hand-built March 2025 (see conftest for the dataset and the sums)."""

from __future__ import annotations

import pytest

from analytics import selectors
from analytics.scope import parse_scope
from crm.tenancy import tenant_context
from tests.analytics.conftest import NOW, TODAY


def _scope(tenant, user, params):
    return parse_scope(params, tenant=tenant, user=user, today=TODAY, now=NOW)


def _rows(panel, table_key):
    table = next(table for table in panel["tables"] if table["key"] == table_key)
    return {row["key"]: row["values"] for row in table["rows"]}


def _kpis(panel):
    return {kpi["key"]: kpi for kpi in panel["kpis"]}


@pytest.fixture
def as_manager(tenant_a, manager_a, month_a, march):
    def panel(key, **extra):
        with tenant_context(tenant_a):
            return selectors.panel_data(key, _scope(tenant_a, manager_a, {**march, **extra}))

    return panel


def test_funnel_counts_conversions_and_medians(as_manager):
    panel = as_manager("funnel")
    steps = _rows(panel, "steps")
    # March inquiries: c1, c2 (23:59 on the 31st), c4, c7 (00:30 on the 1st); c3 (April 1st 00:00) is out.
    assert [steps[key]["count"] for key in steps] == [4, 4, 2, 2, 1, 1, 0]
    # responded: c1, c2, c7 touched, and c4 because it reached "design" (designer assigned);
    # measured: c1 (measured) and c4 (design); design: c1, c4; quoted and signed: c1.
    # Previous period (Jan 29 – Feb 28): c5 and c6 (23:59 on Feb 28).
    assert steps["inquiry"]["previous"] == 2
    assert steps["measured"]["step_conversion"] == 0.5  # 2 / 4
    assert steps["signed"]["overall_conversion"] == 0.25  # 1 / 4
    # Median days, only customers with both timestamps:
    #   inquiry→responded: c1 10 min, c7 10 min, c2 31 min → median 10 min = 0.0069 d → 0.0
    #   responded→measured: c1 10:10 → 03-03 10:00 = 1.993 d → 2.0
    #   measured→design 2.0 (03-03 → 03-05), design→quoted 4.0, quoted→signed 2.0
    assert steps["responded"]["median_days"] == 0.0
    assert [steps[key]["median_days"] for key in ("measured", "design", "quoted", "signed")] == [
        2.0,
        2.0,
        4.0,
        2.0,
    ]
    assert steps["handed_over"]["median_days"] is None
    by_channel = _rows(panel, "by_channel")
    assert by_channel["douyin"] == {
        "inquiries": 2,
        "signed": 1,
        "conversion": 0.5,
        "value": 200_000,
        "spend": 31_000,
        "cost_per_signed": 31_000,
    }
    assert by_channel["website"]["inquiries"] == 1 and by_channel["wechat"]["signed"] == 0
    assert _kpis(panel)["conversion"]["value"] == 0.25


def test_funnel_filters_by_channel_and_sales(as_manager, month_a):
    douyin = _rows(as_manager("funnel", channel="douyin"), "steps")
    assert douyin["inquiry"]["count"] == 2 and douyin["signed"]["count"] == 1
    s2 = _rows(as_manager("funnel", sales=str(month_a.s2.pk)), "steps")
    assert s2["inquiry"]["count"] == 2 and s2["signed"]["count"] == 0  # c4, c7


def test_sla_medians_p90_breaches_and_hours(as_manager, month_a):
    panel = as_manager("sla")
    kpis = _kpis(panel)
    # responded seconds 300, 1800, 600 → median 600 s = 10 min; p90 = 600 + 0.8 × 1200 = 1560 s = 26 min
    assert kpis["leads"]["value"] == 4
    assert kpis["median_minutes"]["value"] == 10.0
    assert kpis["p90_minutes"]["value"] == 26.0
    # L2 answered late, L4 unanswered past due → 2 of 4
    assert kpis["breach_rate"]["value"] == 0.5
    by_user = _rows(panel, "by_user")
    assert by_user[str(month_a.s1.pk)]["median_minutes"] == 17.5  # (300 + 1800) / 2 s
    assert by_user[str(month_a.s2.pk)]["breached"] == 1
    # Hours in Shanghai time: 00 (c7), 10 (c1), 12 (c4), 23 (c2)
    assert list(_rows(panel, "by_hour")) == ["0", "10", "12", "23"]


def test_sales_ranking_against_targets(as_manager, month_a):
    panel = as_manager("sales")
    ranking = _rows(panel, "ranking")
    s1 = ranking[str(month_a.s1.pk)]
    assert s1 == {
        "new_customers": 2,  # c1, c2
        "follow_ups": 1,  # c1's; c2's touch is on April 1st
        "measured": 1,
        "signed": 1,
        "value": 200_000,
        "target": 400_000,
        "attainment": 0.5,
        "rank": 1,
    }
    assert ranking[str(month_a.s2.pk)]["rank"] == 2 and ranking[str(month_a.s2.pk)]["target"] is None
    assert _kpis(panel)["attainment"]["value"] == 0.5  # team target = sum of the users' targets


def test_targets_prorate_for_a_half_month(tenant_a, manager_a, month_a):
    with tenant_context(tenant_a):
        scope = _scope(tenant_a, manager_a, {"range": "custom", "start": "2025-03-01", "end": "2025-03-16"})
        ranking = _rows(selectors.panel_data("sales", scope), "ranking")
    assert ranking[str(month_a.s1.pk)]["target"] == round(400_000 * 16 / 31)


def test_projects_stages_overdue_durations_changes_quality(as_manager, month_a):
    panel = as_manager("projects")
    stages = _rows(panel, "by_stage")
    # p1 in 签约 since 03-11 (plan 7 days) → overdue on 04-10; p2 in 泥瓦 since 04-05 (plan 15) → not.
    assert stages["contract_signed"]["active"] == 1 and stages["contract_signed"]["overdue"] == 1
    assert stages["masonry"]["active"] == 1 and stages["masonry"]["overdue"] == 0
    # Stints that ended in March: 咨询 1 day, 设计 4 days, 报价 2 days.
    assert [stages[key]["avg_days"] for key in ("consultation", "design", "quotation")] == [1.0, 4.0, 2.0]
    kpis = _kpis(panel)
    assert kpis["change_share"]["value"] == 0.1  # 20 000 / 200 000
    assert kpis["open_rectifications"]["value"] == 1
    by_pm = _rows(panel, "by_pm")
    assert by_pm[str(month_a.pm2.pk)]["pass_rate"] == 0.75  # 3 of 4 items
    assert by_pm[str(month_a.pm1.pk)]["overdue"] == 1


def test_projects_filter_by_project_manager(as_manager, month_a):
    stages = _rows(as_manager("projects", pm=str(month_a.pm2.pk)), "by_stage")
    assert stages["contract_signed"]["active"] == 0 and stages["masonry"]["active"] == 1
