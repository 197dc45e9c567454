"""The dashboard page, its drill-down links, Excel export, the panel API, role scoping, tenants."""

from __future__ import annotations

import io
import re

import openpyxl
import pytest
from django.utils.http import urlencode

from analytics.selectors import PANELS
from crm.models import Role
from tests.analytics.conftest import build_month


def _page(client, params) -> str:
    response = client.get(f"/dashboard/?{urlencode(params)}")
    assert response.status_code == 200
    return response.content.decode()


def _funnel_links(page: str) -> dict[str, tuple[int, str]]:
    section = page.split('id="panel-funnel"')[1].split("</section>")[0]
    table = section.split('data-table="steps"')[1].split("</table>")[0]
    links = {}
    for step, href, number in re.findall(
        r'<tr data-row="(\w+)">.*?<td data-column="count"><a href="([^"]+)">([\d,]+)</a>', table, re.S
    ):
        links[step] = (int(number.replace(",", "")), href.replace("&amp;", "&"))
    return links


def test_every_funnel_number_opens_a_list_with_the_same_count(session_client, manager_a, month_a, march):
    client = session_client(manager_a)
    links = _funnel_links(_page(client, march))
    assert [count for count, _href in links.values()] == [4, 4, 2, 2, 1, 1, 0]
    for step, (count, href) in links.items():
        listing = client.get(href).content.decode()
        assert f"共 {count} 位客户" in listing, (step, href)


def test_sales_and_project_links_match_their_lists(session_client, manager_a, month_a, march):
    client = session_client(manager_a)
    page = _page(client, march)
    signed = re.search(
        rf'<tr data-row="{month_a.s1.pk}">.*?<td data-column="signed"><a href="([^"]+)">1</a>', page, re.S
    )
    assert signed, "the sales ranking links its signed count"
    assert "共 1 个项目" in client.get(signed.group(1).replace("&amp;", "&")).content.decode()
    overdue = re.search(
        r'<tr data-row="contract_signed">.*?<td data-column="overdue"><a href="([^"]+)">1</a>', page, re.S
    )
    assert "共 1 个项目" in client.get(overdue.group(1).replace("&amp;", "&")).content.decode()


def test_page_draws_from_static_files_only(session_client, manager_a, month_a, march):
    page = _page(session_client(manager_a), march)
    assert 'id="analytics-data" type="application/json"' in page
    assert "/static/vendor/echarts/echarts.min.js" in page and "/static/js/analytics.js" in page
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    inline = [attrs for attrs, body in scripts if body.strip() and "application/json" not in attrs]
    assert inline == [], "no inline scripts (CSP script-src 'self')"
    assert " onclick=" not in page and "cdn" not in page.lower()


def test_bad_filters_are_400_with_field_messages(session_client, token_client, manager_a, month_a):
    client = session_client(manager_a)
    assert client.get("/dashboard/?range=forever").status_code == 400
    api = token_client(manager_a)
    for params, field, _code in [
        ({"range": "forever"}, "range", "invalid_range"),
        ({"range": "custom", "start": "2025-13-01", "end": "2025-01-01"}, "start", "invalid_date"),
        ({"range": "custom", "start": "2025-03-02", "end": "2025-03-01"}, "end", "invalid_range"),
        ({"channel": "tv"}, "channel", "invalid_channel"),
        ({"sales": "abc"}, "sales", "invalid_user"),
    ]:
        response = api.get(f"/api/v1/analytics/funnel/?{urlencode(params)}")
        assert response.status_code == 400, params
        assert field in response.json()["errors"], (params, response.json())
    assert api.get("/api/v1/analytics/nope/").status_code == 404


def test_api_returns_the_numbers_the_page_shows(session_client, token_client, manager_a, month_a, march):
    api = token_client(manager_a)
    page = _page(session_client(manager_a), march)
    for key in PANELS:
        data = api.get(f"/api/v1/analytics/{key}/?{urlencode(march)}").json()
        assert data["key"] == key and data["period"] == {
            "preset": "custom",
            "start": "2025-03-01",
            "end": "2025-03-31",
        }
        for table in data["tables"]:
            assert f'data-table="{table["key"]}"' in page
    funnel = api.get(f"/api/v1/analytics/funnel/?{urlencode(march)}").json()
    counts = [row["values"]["count"] for row in funnel["tables"][0]["rows"]]
    assert counts == [count for count, _href in _funnel_links(page).values()]


def test_excel_export_has_the_panel_tables(session_client, manager_a, month_a, march):
    response = session_client(manager_a).get(f"/dashboard/export/funnel.xlsx?{urlencode(march)}")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    inquiry = next(row for row in rows if row[0] == "询盘" and isinstance(row[1], int))
    assert inquiry[1] == 4 and inquiry[2] == 2  # count, previous


def test_sales_user_sees_only_their_own_figures(session_client, api_as, month_a, march):
    s2 = month_a.s2
    api = api_as(s2)
    # Asking for a colleague's figures still returns one's own.
    funnel = api.get(f"/api/v1/analytics/funnel/?{urlencode({**march, 'sales': month_a.s1.pk})}").json()
    assert funnel["restricted"] is True and funnel["filters"]["sales"] == s2.pk
    assert funnel["tables"][0]["rows"][0]["values"]["count"] == 2  # c4, c7
    ranking = api.get(f"/api/v1/analytics/sales/?{urlencode(march)}").json()["tables"][0]["rows"]
    assert [row["key"] for row in ranking] == [str(s2.pk)]
    sla = api.get(f"/api/v1/analytics/sla/?{urlencode(march)}").json()
    assert sla["kpis"][0]["value"] == 2  # L4, L7
    page = _page(session_client(s2), march)
    assert "仅显示您本人的数据" in page and 'name="sales"' not in page
    assert "线索与首次响应" not in page  # managers' widgets stay hidden


def test_other_roles_cannot_open_the_dashboard(session_client, api_as, tenant_a, make_staff):
    designer = make_staff(tenant_a, Role.DESIGNER)
    assert session_client(designer).get("/dashboard/").status_code == 403
    assert api_as(designer).get("/api/v1/analytics/funnel/").status_code == 403


@pytest.mark.parametrize("panel", list(PANELS))
def test_tenants_see_only_their_own_numbers(
    panel, token_client, tenant_a, tenant_b, admin_b, make_staff, march
):
    build_month(tenant_a, make_staff)
    data = token_client(admin_b).get(f"/api/v1/analytics/{panel}/?{urlencode(march)}").json()
    numbers = [
        value
        for table in data["tables"]
        for row in table["rows"]
        for key, value in row["values"].items()
        if key not in ("planned_days", "rank") and isinstance(value, int | float)
    ]
    assert not any(numbers), f"{panel}: tenant B sees tenant A's figures {numbers}"
    assert all(not kpi["value"] for kpi in data["kpis"])


def test_user_of_another_tenant_is_an_invalid_filter(token_client, admin_b, month_a, march):
    response = token_client(admin_b).get(
        f"/api/v1/analytics/sales/?{urlencode({**march, 'sales': month_a.s1.pk})}"
    )
    assert response.status_code == 400 and "sales" in response.json()["errors"]


def test_targets_crud_for_managers_read_only_for_sales(token_client, api_as, manager_a, month_a):
    api = token_client(manager_a)
    created = api.post(
        "/api/v1/targets/",
        {"user": month_a.s2.pk, "month": "2025-04-01", "contract_value_fen": 300000},
        format="json",
    )
    assert created.status_code == 201, created.json()
    target_id = created.json()["id"]
    duplicate = api.post("/api/v1/targets/", {"user": month_a.s2.pk, "month": "2025-04-01"}, format="json")
    assert duplicate.status_code == 400 and "month" in duplicate.json()["errors"]
    bad = api.post("/api/v1/targets/", {"user": month_a.s2.pk, "month": "2025-04-15"}, format="json")
    assert bad.status_code == 400 and "month" in bad.json()["errors"]
    not_sales = api.post("/api/v1/targets/", {"user": month_a.pm1.pk, "month": "2025-04-01"}, format="json")
    assert not_sales.status_code == 400 and "user" in not_sales.json()["errors"]
    assert (
        api.patch(f"/api/v1/targets/{target_id}/", {"contract_value_fen": 350000}, format="json").status_code
        == 200
    )
    sales_api = api_as(month_a.s2)
    mine = sales_api.get("/api/v1/targets/").json()
    assert [item["id"] for item in mine.get("results", mine)] == [target_id]
    assert (
        sales_api.patch(f"/api/v1/targets/{target_id}/", {"contract_value_fen": 1}, format="json").status_code
        == 403
    )
    assert api.delete(f"/api/v1/targets/{target_id}/").status_code == 204
