"""CSV/XLSX import (all or nothing, per-row report) and export (managers only, audit-logged)."""

from __future__ import annotations

import csv
import io

import openpyxl
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import AuditAction, Customer, CustomerAuditLog
from tests.customers.factories import CustomerFactory


def _csv(rows: list[list[str]]) -> SimpleUploadedFile:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return SimpleUploadedFile("customers.csv", ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv")


def _xlsx(rows: list[list]) -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    for row in rows:
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return SimpleUploadedFile("customers.xlsx", buffer.getvalue())


HEADER = ["姓名", "手机号", "来源渠道", "小区", "预算", "风格偏好"]


def test_csv_import_valid_file(tenant_a, manager_a, session_client):
    upload = _csv(
        [
            HEADER,
            ["周杰", "13811110001", "抖音", "保利香槟国际", "280000", "北欧、日式"],
            ["吴敏", "13811110002", "website", "", "", ""],
        ]
    )
    response = session_client(manager_a).post(reverse("customers:import"), {"file": upload})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        zhou = Customer.objects.get(phone="+8613811110001")
        assert Customer.objects.count() == 2
        assert CustomerAuditLog.objects.filter(action=AuditAction.IMPORT).count() == 1
    assert zhou.source_channel == "douyin" and zhou.style_preferences == ["nordic", "japanese"]
    assert zhou.budget_tier == "mid"


def test_import_with_bad_rows_imports_nothing_and_reports_row_and_field(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name="老客户", phone="+8613899990000")
    upload = _xlsx(
        [
            HEADER,
            ["好行", "13811110001", "官网", "", 100000, ""],
            ["坏手机", "12345", "官网", "", "", ""],
            ["重复", "13899990000", "官网", "", "", ""],
            ["坏渠道", "13811110003", "电视", "", "", ""],
            ["负预算", "13811110004", "官网", "", -100, ""],
            ["", "13811110005", "官网", "", "", ""],
            ["同文件重复", "13811110001", "官网", "", "", ""],
        ]
    )
    response = session_client(manager_a).post(reverse("customers:import"), {"file": upload})
    assert response.status_code == 400
    errors = {(e["row"], e["field"]) for e in response.context["errors"]}
    assert errors == {
        (3, "phone"),
        (4, "phone"),
        (5, "source_channel"),
        (6, "budget_fen"),
        (7, "name"),
        (8, "phone"),
    }
    page = response.content.decode()
    assert "老客户" in page and "未导入任何数据" in page
    with tenant_context(tenant_a):
        assert Customer.objects.count() == 1


def test_import_is_managers_only(tenant_a, make_staff, session_client):
    sales = make_staff(tenant_a, Role.SALES)
    response = session_client(sales).post(reverse("customers:import"), {"file": _csv([HEADER])})
    assert response.status_code == 403


def test_export_filtered_list_csv_and_xlsx_is_audited(tenant_a, manager_a, session_client):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name="高预算", budget_tier="high")
        CustomerFactory(tenant=tenant_a, name="低预算", budget_tier="low")
    client = session_client(manager_a)
    response = client.get(reverse("customers:export"), {"budget_tier": "high", "format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["姓名", "手机号"] and [row[0] for row in rows[1:]] == ["高预算"]
    response = client.get(reverse("customers:export"), {"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sorted(row[0] for row in sheet.iter_rows(min_row=2, values_only=True)) == ["低预算", "高预算"]
    with tenant_context(tenant_a):
        logs = list(CustomerAuditLog.objects.filter(action=AuditAction.EXPORT_LIST).order_by("id"))
    assert [(log.actor, log.detail["rows"], log.detail["format"]) for log in logs] == [
        (manager_a, 1, "csv"),
        (manager_a, 2, "xlsx"),
    ]


def test_export_forbidden_for_sales(tenant_a, make_staff, session_client, api_as):
    sales = make_staff(tenant_a, Role.SALES)
    assert session_client(sales).get(reverse("customers:export")).status_code == 403
    assert api_as(sales).get("/api/v1/customers/export/").status_code == 403
    with tenant_context(tenant_a):
        assert CustomerAuditLog.objects.count() == 0


def test_api_export(tenant_a, manager_a, api_as):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name="甲")
    client = api_as(manager_a)
    response = client.get("/api/v1/customers/export/?file_format=csv")
    assert response.status_code == 200 and "甲" in response.content.decode("utf-8-sig")
    data = client.get("/api/v1/customers/export/").json()
    assert data["count"] == 1 and data["results"][0]["name"] == "甲"
    assert client.get("/api/v1/customers/export/?file_format=pdf").status_code == 400
    with tenant_context(tenant_a):
        assert CustomerAuditLog.objects.filter(action=AuditAction.EXPORT_LIST).count() == 2


def test_import_with_non_finite_numbers_reports_the_row(tenant_a, manager_a, session_client):
    upload = _csv(
        [HEADER, ["甲", "13811110001", "官网", "", "nan", ""], ["乙", "13811110002", "官网", "", "inf", ""]]
    )
    response = session_client(manager_a).post(reverse("customers:import"), {"file": upload})
    assert response.status_code == 400
    assert {(e["row"], e["field"]) for e in response.context["errors"]} == {
        (2, "budget_fen"),
        (3, "budget_fen"),
    }
    with tenant_context(tenant_a):
        assert not Customer.objects.exists()


def test_export_does_not_turn_public_input_into_spreadsheet_formulas(tenant_a, manager_a, session_client):
    """Names arrive from the public intake endpoint; Excel must show them as text, never run them."""
    payload = '=HYPERLINK("http://evil.example","点我")'
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name=payload, community="+1+2", tags=["@SUM(1)"])
    client = session_client(manager_a)
    response = client.get(reverse("customers:export"), {"format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    headers = [cell.value for cell in sheet[1]]
    row = dict(zip(headers, sheet[2], strict=True))
    assert row["姓名"].data_type == "s" and row["姓名"].value == payload
    assert row["小区"].data_type == "s" and row["小区"].value == "+1+2"
    assert row["标签"].data_type == "s"
    response = client.get(reverse("customers:export"), {"format": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    values = dict(zip(rows[0], rows[1], strict=True))
    assert values["姓名"] == "'" + payload and values["小区"] == "'+1+2" and values["标签"] == "'@SUM(1)"


def test_budget_is_yuan_in_files_and_exact_fen_in_the_database(tenant_a, manager_a, session_client):
    client = session_client(manager_a)
    upload = _xlsx(
        [
            ["姓名", "手机号", "预算（元）"],
            ["周杰", "13811110001", "186,000.80"],
            ["吴敏", "13811110002", 12.35],
            ["郑晓", "13811110003", 280000],
        ]
    )
    assert client.post(reverse("customers:import"), {"file": upload}).status_code == 302
    with tenant_context(tenant_a):
        budgets = dict(Customer.objects.values_list("name", "budget_fen"))
    assert budgets == {"周杰": 18_600_080, "吴敏": 1_235, "郑晓": 28_000_000}
    bad = _csv(
        [
            HEADER,
            ["坏预算", "13811110009", "官网", "", "12.345", ""],
            ["坏字", "13811110008", "", "", "十万", ""],
        ]
    )
    response = client.post(reverse("customers:import"), {"file": bad})
    assert response.status_code == 400
    assert {(e["row"], e["field"]) for e in response.context["errors"]} == {
        (2, "budget_fen"),
        (3, "budget_fen"),
    }
    response = client.get(reverse("customers:export"), {"format": "csv", "q": "周杰"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    column = rows[0].index("预算（元）")
    assert rows[1][column] == "186000.80"
    sheet = openpyxl.load_workbook(
        io.BytesIO(client.get(reverse("customers:export"), {"format": "xlsx"}).content)
    ).active
    header = [cell.value for cell in sheet[1]]
    cells = {row[0].value: row[header.index("预算（元）")] for row in sheet.iter_rows(min_row=2)}
    assert cells["吴敏"].value == 12.35 and cells["吴敏"].number_format == "#,##0.00"
