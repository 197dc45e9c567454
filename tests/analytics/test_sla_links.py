"""Every number of the SLA panel is a link to the lead list it counts, and that list shows the same
count (like the funnel's); the list keeps role scoping and tenant isolation."""

from __future__ import annotations

import re

from django.utils.http import urlencode

COUNTED_BY = {  # the column whose number the linked list must show
    "leads": "leads",
    "responded": "responded",
    "median_minutes": "responded",
    "p90_minutes": "responded",
    "breached": "breached",
    "breach_rate": "breached",
}


def _listed(client, href: str) -> int:
    response = client.get(href)
    assert response.status_code == 200, (href, response.status_code)
    match = re.search(r'data-count="(\d+)"', response.content.decode())
    assert match, href
    return int(match.group(1))


def test_every_sla_number_opens_a_list_with_the_same_count(
    session_client, token_client, manager_a, month_a, march
):
    client = session_client(manager_a)
    page = client.get(f"/dashboard/?{urlencode(march)}").content.decode()
    section = page.split('id="panel-sla"')[1].split("</section>")[0]
    data = token_client(manager_a).get(f"/api/v1/analytics/sla/?{urlencode(march)}").json()
    checked = 0
    for table in data["tables"]:
        assert table["rows"], table["key"]
        for row in table["rows"]:
            for column, counted in COUNTED_BY.items():
                href = row["links"][column]
                assert href.replace("&", "&amp;") in section, (table["key"], row["key"], column)
                assert _listed(client, href) == row["values"][counted], (table["key"], row["key"], column)
                checked += 1
    kpis = {kpi["key"]: kpi for kpi in data["kpis"]}
    for key, kpi in kpis.items():
        assert kpi["link"] and kpi["link"].replace("&", "&amp;") in section, key
    assert _listed(client, kpis["leads"]["link"]) == kpis["leads"]["value"] == 4  # L1, L2, L4, L7
    assert (
        _listed(client, kpis["breached"]["link"]) == kpis["breached"]["value"] == 2
    )  # L2 late, L4 unanswered
    assert checked > 20


def test_sla_list_keeps_role_scoping_and_tenants_apart(session_client, manager_a, admin_b, month_a, march):
    s2 = session_client(month_a.s2)
    # A sales user asking for a colleague's leads still gets their own (as on the dashboard).
    mine = s2.get(f"/dashboard/leads/?{urlencode({**march, 'sales': month_a.s1.pk})}").content.decode()
    assert 'data-count="2"' in mine and "仅显示您本人的数据" in mine  # L4, L7
    other_tenant = session_client(admin_b).get(f"/dashboard/leads/?{urlencode(march)}")
    assert other_tenant.status_code == 200 and 'data-count="0"' in other_tenant.content.decode()
    assert session_client(manager_a).get("/dashboard/leads/?hour=25").status_code == 400
    assert session_client(manager_a).get("/dashboard/leads/?state=nope").status_code == 400


def test_weeks_start_on_monday_in_tenant_time_and_their_links_count_them(
    session_client, token_client, manager_a, month_a, march, tenant_a
):
    """Sunday 10:00 and Monday 00:30 Shanghai (Sunday 16:30 UTC) fall in different weeks; each week
    is labelled by its Monday and its link lists exactly the leads it counts (the label was once the
    Sunday before, and the link then covered Sunday–Saturday)."""
    import datetime

    from crm.tenancy import tenant_context
    from tests.analytics.conftest import _customer, _lead, at

    with tenant_context(tenant_a):
        for name, received in (("周日客户", at(3, 16, 10)), ("周一客户", at(3, 17, 0, 30))):
            customer = _customer(tenant_a, name, received, "douyin", month_a.s1)
            _lead(tenant_a, customer, received, month_a.s1, seconds=300)
    client = session_client(manager_a)
    data = token_client(manager_a).get(f"/api/v1/analytics/sla/?{urlencode(march)}").json()
    weekly = next(table for table in data["tables"] if table["key"] == "weekly")
    weeks = {row["key"]: row for row in weekly["rows"]}
    assert all(datetime.date.fromisoformat(key).weekday() == 0 for key in weeks), list(weeks)
    assert {"2025-03-10", "2025-03-17"} <= set(weeks)
    for row in weeks.values():
        assert _listed(client, row["links"]["leads"]) == row["values"]["leads"], row["key"]
