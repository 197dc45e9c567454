"""Every panel, not only the funnel: Excel export, the API's numbers are the page's, a sales user's
figures are their own, and targets stay within their tenant."""

from __future__ import annotations

import io
import json
import re

import openpyxl
import pytest
from django.utils.http import urlencode

from analytics.selectors import PANELS
from tests.analytics.test_panels_more import build_more


@pytest.fixture
def more(tenant_a, month_a):
    return build_more(tenant_a, month_a)


def _values(tables: list[dict]) -> list:
    return [(table["key"], row["key"], row["values"]) for table in tables for row in table["rows"]]


@pytest.mark.parametrize("panel", list(PANELS))
def test_every_panel_exports_its_tables_to_excel(panel, session_client, token_client, manager_a, more, march):
    response = session_client(manager_a).get(f"/dashboard/export/{panel}.xlsx?{urlencode(march)}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    cells = {
        str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for cell in row
    }
    data = token_client(manager_a).get(f"/api/v1/analytics/{panel}/?{urlencode(march)}").json()
    for table in data["tables"]:
        assert table["title"] in cells, (panel, table["key"])
        for row in table["rows"]:
            assert row["label"] in cells, (panel, table["key"], row["label"])


@pytest.mark.parametrize("panel", list(PANELS))
def test_api_returns_exactly_the_numbers_the_page_shows(
    panel, session_client, token_client, manager_a, more, march
):
    page = session_client(manager_a).get(f"/dashboard/?{urlencode(march)}").content.decode()
    embedded = re.search(r'<script id="analytics-data" type="application/json">(.*?)</script>', page, re.S)
    shown = {item["key"]: item for item in json.loads(embedded.group(1))}[panel]
    data = token_client(manager_a).get(f"/api/v1/analytics/{panel}/?{urlencode(march)}").json()
    assert _values(data["tables"]) == _values(shown["tables"])
    section = page.split(f'id="panel-{panel}"')[1].split("</section>")[0]
    for table in data["tables"]:
        assert f'data-table="{table["key"]}"' in section


@pytest.mark.parametrize("panel", list(PANELS))
def test_a_sales_user_gets_their_own_figures_on_every_panel(
    panel, api_as, token_client, manager_a, more, march
):
    s2 = more.s2
    own = api_as(s2).get(f"/api/v1/analytics/{panel}/?{urlencode({**march, 'sales': more.s1.pk})}").json()
    assert own["restricted"] is True and own["filters"]["sales"] == s2.pk
    as_manager = token_client(manager_a).get(
        f"/api/v1/analytics/{panel}/?{urlencode({**march, 'sales': s2.pk})}"
    )
    assert _values(own["tables"]) == _values(as_manager.json()["tables"])


def test_targets_of_another_tenant_are_not_found(token_client, manager_a, admin_b, month_a):
    created = token_client(manager_a).post(
        "/api/v1/targets/",
        {"user": month_a.s2.pk, "month": "2025-04-01", "contract_value_fen": 300000},
        format="json",
    )
    target_id = created.json()["id"]
    other = token_client(admin_b)
    assert other.get(f"/api/v1/targets/{target_id}/").status_code == 404
    assert (
        other.patch(f"/api/v1/targets/{target_id}/", {"contract_value_fen": 1}, format="json").status_code
        == 404
    )
    assert other.delete(f"/api/v1/targets/{target_id}/").status_code == 404
    listed = other.get("/api/v1/targets/").json()
    assert target_id not in [item["id"] for item in listed.get("results", listed)]
