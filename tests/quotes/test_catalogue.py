"""Catalogue: Excel import (per-row errors, nothing written on a bad file), export and template."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from quotes.exports import catalogue_xlsx
from quotes.models import CatalogueItem
from quotes.services import catalogue
from tests.quotes.factories import make_item

pytestmark = pytest.mark.django_db

HEADER = ["名称", "规格", "单位", "单价（元）", "类别", "启用"]


def xlsx(rows: list[list], header: list[str] = HEADER) -> SimpleUploadedFile:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return SimpleUploadedFile("价目表.xlsx", out.getvalue())


def test_import_creates_and_updates_items_exactly(in_a, people):
    make_item(in_a, name="木地板", spec="强化 12mm", unit_price_fen=9_900)
    result = catalogue.catalogue_import(
        tenant=in_a,
        actor=people["manager"],
        upload=xlsx(
            [
                ["木地板", "强化 12mm", "㎡", 128.35, "主材", "是"],
                ["水电改造", "", "㎡", "85.5", "人工", ""],
                ["防水涂料", "K11", "桶", 12, "辅材", "否"],
            ]
        ),
    )
    assert (result.created, result.updated) == (2, 1)
    items = {item.name: item for item in CatalogueItem.objects.all()}
    assert items["木地板"].unit_price_fen == 12_835
    assert items["水电改造"].unit_price_fen == 8_550 and items["水电改造"].category == "labour"
    assert items["防水涂料"].active is False


def test_a_bad_file_writes_nothing_and_reports_every_bad_row(in_a, people):
    upload = xlsx(
        [
            ["瓷砖", "800×800", "㎡", "128.355", "主材", "是"],  # over-precise
            ["", "", "㎡", "10", "主材", ""],  # no name
            ["人工费", "", "项", "-5", "人工", ""],  # negative
            ["美缝", "", "米", "8", "杂费", ""],  # unknown category
            ["水泥", "", "袋", "30", "辅材", ""],  # fine, but the file is refused as a whole
            ["水泥", "", "袋", "31", "辅材", ""],  # duplicate of row 6
            ["砂子", "", "袋", "1e999999", "辅材", ""],  # absurdly large
        ]
    )
    with pytest.raises(catalogue.CatalogueImportRejected) as raised:
        catalogue.catalogue_import(tenant=in_a, actor=people["manager"], upload=upload)
    rows = {(row["row"], row["column"]) for row in raised.value.rows}
    assert rows == {
        (2, "单价（元）"),
        (3, "名称"),
        (4, "单价（元）"),
        (5, "类别"),
        (7, "名称"),
        (8, "单价（元）"),
    }
    assert not CatalogueItem.objects.exists()


def test_unreadable_or_headerless_files_are_refused(in_a, people):
    with pytest.raises(Exception) as raised:
        catalogue.catalogue_import(
            tenant=in_a, actor=people["manager"], upload=SimpleUploadedFile("x.xlsx", b"not a workbook")
        )
    assert "unreadable_file" in str(raised.value.error_dict["file"][0].code)
    with pytest.raises(Exception) as raised:
        catalogue.catalogue_import(
            tenant=in_a, actor=people["manager"], upload=xlsx([["a"]], header=["名称"])
        )
    assert raised.value.error_dict["file"][0].code == "missing_columns"


def test_export_is_an_importable_template(in_a, people):
    make_item(in_a, name="乳胶漆", spec="5L", unit="桶", unit_price_fen=45_050, category="aux_material")
    content = catalogue_xlsx(CatalogueItem.objects.all())
    CatalogueItem.objects.all().delete()
    result = catalogue.catalogue_import(
        tenant=in_a, actor=people["manager"], upload=SimpleUploadedFile("roundtrip.xlsx", content)
    )
    assert result.created == 1
    item = CatalogueItem.objects.get()
    assert (item.name, item.spec, item.unit, item.unit_price_fen, item.category) == (
        "乳胶漆",
        "5L",
        "桶",
        45_050,
        "aux_material",
    )


def test_import_through_the_api_answers_400_with_row_codes(tenant_a, people, api_as):
    client = api_as(people["manager"])
    response = client.post(
        "/api/v1/quote-items/import/",
        {"file": xlsx([["瓷砖", "", "㎡", "abc", "主材", ""]])},
        format="multipart",
    )
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["codes"]["file"] == ["invalid_row"] and "第 2 行" in body["errors"]["file"][0]
    ok = client.post(
        "/api/v1/quote-items/import/",
        {"file": xlsx([["瓷砖", "", "㎡", "99", "主材", ""]])},
        format="multipart",
    )
    assert ok.status_code == 200 and ok.json() == {"created": 1, "updated": 0}
    sales = api_as(people["sales"]).post(
        "/api/v1/quote-items/import/",
        {"file": xlsx([["瓷砖", "", "㎡", "99", "主材", ""]])},
        format="multipart",
    )
    assert sales.status_code == 403


def test_catalogue_page_import_shows_row_errors(tenant_a, people, session_client):
    client = session_client(people["manager"])
    response = client.post(
        "/quotes/catalogue/", {"action": "import", "file": xlsx([["瓷砖", "", "㎡", "1.234", "主材", ""]])}
    )
    assert response.status_code == 400
    assert "第 2 行" in response.content.decode()
    assert client.get("/quotes/catalogue/export/?template=1").status_code == 200
