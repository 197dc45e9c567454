"""Quotations over the API and the pages: builder, versions, approval, exports (a real PDF), and the
customer's acceptance on the progress page with an SMS code."""

from __future__ import annotations

import base64
import io
import re
import zlib

import openpyxl
import pytest
from django.urls import reverse

from crm.notifications.models import SmsMessage
from crm.tenancy import tenant_context
from projects.services import share
from quotes.models import Quotation
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory
from tests.quotes.factories import make_item, make_package, make_quotation

pytestmark = pytest.mark.django_db


def pdf_text(data: bytes) -> str:
    """The text drawn in a reportlab PDF (ASCII85 + Flate content streams, UCS-2 CID strings)."""
    text = []
    for match in re.finditer(
        rb"/Filter \[ /ASCII85Decode /FlateDecode \][^>]*>>\s*stream\r?\n(.*?)~>", data, re.S
    ):
        content = zlib.decompress(base64.a85decode(match.group(1) + b"~>", adobe=True))
        for literal in re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", content, re.S):
            raw = re.sub(
                rb"\\([0-7]{1,3}|.)",
                lambda m: (
                    bytes([int(m.group(1), 8)])
                    if m.group(1)[:1].isdigit()
                    else {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(m.group(1), m.group(1))
                ),
                literal,
            )
            text.append(
                raw.decode("utf-16-be", errors="replace") if len(raw) % 2 == 0 else raw.decode("latin-1")
            )
    return "".join(text)


@pytest.fixture
def customer(tenant_a, people):
    with tenant_context(tenant_a):
        return CustomerFactory(tenant=tenant_a, owner=people["sales"])


def test_api_builds_a_quotation_with_exact_totals_and_versions(tenant_a, people, customer, api_as):
    with tenant_context(tenant_a):
        tile = make_item(tenant_a, unit_price_fen=1_235)
        package = make_package(tenant_a, price_per_sqm_fen=100_000)
    client = api_as(people["sales"])
    response = client.post(
        "/api/v1/quotations/",
        {
            "customer": customer.pk,
            "title": "报价",
            "area_sqm": "88.50",
            "new_lines": [
                {"kind": "item", "catalogue_item": tile.pk, "quantity": "88"},
                {"kind": "package", "package": package.pk},
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["subtotal_fen"] == 108_680 + 8_850_000 and body["total_fen"] == body["subtotal_fen"]
    pk = body["id"]
    bad = client.post(
        f"/api/v1/quotations/{pk}/add-line/",
        {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": 100, "quantity": "1.0001"},
        format="json",
    )
    assert bad.status_code == 400 and "quantity_too_precise" in str(bad.json()["codes"])
    over = client.post(
        f"/api/v1/quotations/{pk}/discount/",
        {"discount_kind": "amount", "discount_amount_fen": 99_999_999},
        format="json",
    )
    assert over.status_code == 400 and "discount_exceeds_total" in str(over.json()["codes"])
    negative = client.post(
        f"/api/v1/quotations/{pk}/discount/",
        {"discount_kind": "amount", "discount_amount_fen": -1},
        format="json",
    )
    assert negative.status_code == 400
    assert client.post(f"/api/v1/quotations/{pk}/send/").json()["status"] == "sent"
    edit = client.patch(f"/api/v1/quotations/{pk}/", {"title": "改"}, format="json")
    assert edit.status_code == 400 and "quotation_not_editable" in str(edit.json()["codes"])
    revised = client.post(f"/api/v1/quotations/{pk}/revise/")
    assert revised.status_code == 201 and revised.json()["version"] == 2
    versions = client.get(f"/api/v1/quotations/{revised.json()['id']}/versions/").json()
    assert [(v["version"], v["status"]) for v in versions] == [(1, "superseded"), (2, "draft")]
    listed = client.get("/api/v1/quotations/").json()
    assert {row["id"] for row in listed["results"]} == {pk, revised.json()["id"]}


def test_manager_approves_a_discount_over_the_api(tenant_a, people, customer, api_as):
    with tenant_context(tenant_a):
        quotation = make_quotation(tenant_a, customer=customer, lines=[("全包", 1_000_000, 1)])
    sales = api_as(people["sales"])
    pending = sales.post(
        f"/api/v1/quotations/{quotation.pk}/discount/",
        {"discount_kind": "percent", "discount_percent": "12.5"},
        format="json",
    ).json()
    assert (pending["discount_fen"], pending["total_fen"], pending["discount_approval"]) == (
        125_000,
        875_000,
        "pending",
    )
    assert sales.post(f"/api/v1/quotations/{quotation.pk}/approve-discount/").status_code == 403
    manager = api_as(people["manager"])
    approved = manager.post(
        f"/api/v1/quotations/{quotation.pk}/approve-discount/", {"note": "同意"}, format="json"
    )
    assert approved.status_code == 200 and approved.json()["discount_approval"] == "approved"


def test_exports_are_a_real_pdf_with_the_total_and_an_excel_sheet(
    tenant_a, people, customer, api_as, session_client
):
    with tenant_context(tenant_a):
        quotation = make_quotation(
            tenant_a, customer=customer, lines=[("全屋定制柜", 1_234_567, 1), ("安装", 1_000, 3)]
        )
    response = api_as(people["sales"]).get(f"/api/v1/quotations/{quotation.pk}/export-pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    data = response.content
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    text = pdf_text(data)
    assert "合计：¥12,375.67" in text and "全屋定制柜" in text and customer.name in text
    page = session_client(people["sales"]).get(reverse("quotes:export", args=[quotation.pk, "xlsx"]))
    sheet = openpyxl.load_workbook(io.BytesIO(page.content)).active
    values = [cell for row in sheet.iter_rows(values_only=True) for cell in row if cell is not None]
    assert "合计（元）" in values and 12_375.67 in [float(v) for v in values if isinstance(v, int | float)]


def test_builder_page_adds_lines_and_totals_update(tenant_a, people, customer, session_client):
    with tenant_context(tenant_a):
        tile = make_item(tenant_a, unit_price_fen=1_235)
    client = session_client(people["sales"])
    assert f"/quotes/new/?customer={customer.pk}" in client.get(f"/customers/{customer.pk}/").content.decode()
    response = client.post(f"/quotes/new/?customer={customer.pk}", {"title": "客厅报价", "area_sqm": "30"})
    assert response.status_code == 302
    with tenant_context(tenant_a):
        quotation = Quotation.objects.get()
    client.post(
        f"/quotes/{quotation.pk}/lines/add/", {"kind": "item", "catalogue_item": tile.pk, "quantity": "12.35"}
    )
    page = client.get(f"/quotes/{quotation.pk}/").content.decode()
    assert "¥152.52" in page  # 12.35 × ¥12.35 = ¥152.5225 → ¥152.52
    bad = client.post(
        f"/quotes/{quotation.pk}/lines/add/",
        {"kind": "free", "name": "x", "unit": "项", "unit_price_fen": "-3", "quantity": "1"},
    )
    assert bad.status_code == 400
    with tenant_context(tenant_a):
        assert quotation.lines.count() == 1


def test_another_reps_quotation_is_404_on_pages_and_api(
    tenant_a, people, make_staff, customer, api_as, session_client
):
    from crm.models import Role

    other_rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        quotation = make_quotation(tenant_a, customer=customer)
    assert api_as(other_rep).get(f"/api/v1/quotations/{quotation.pk}/").status_code == 404
    client = session_client(other_rep)
    assert client.get(f"/quotes/{quotation.pk}/").status_code == 404
    assert client.get(f"/quotes/{quotation.pk}/export/pdf/").status_code == 404
    assert client.post(f"/quotes/{quotation.pk}/send/").status_code == 404
    assert quotation.number not in client.get("/quotes/").content.decode()


def test_customer_accepts_the_sent_quotation_with_an_sms_code(client, tenant_a, people, customer):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, customer=customer)
        quotation = make_quotation(tenant_a, customer=customer, project=project, status="sent")
        draft = make_quotation(tenant_a, customer=customer, project=project, title="草稿不显示")
        _link, token = share.share_link_create(tenant=tenant_a, project=project, created_by=people["pm"])
    page = client.get(reverse("projects:progress", args=[token])).content.decode()
    assert quotation.title in page and draft.title not in page
    request = reverse("quotes:progress-decide", args=[token, quotation.pk, "request"])
    assert client.post(request, {"decision": "approve"}).status_code == 200
    with tenant_context(tenant_a):
        sms = SmsMessage.objects.get()
    assert sms.phone == customer.phone and "报价单" in sms.message
    code = re.search(r"验证码 (\d{6})", sms.message).group(1)
    confirm = reverse("quotes:progress-decide", args=[token, quotation.pk, "confirm"])
    wrong = "000000" if code != "000000" else "111111"
    assert client.post(confirm, {"code": wrong, "decision": "approve"}).status_code == 400
    with tenant_context(tenant_a):
        quotation.refresh_from_db()
        assert quotation.status == "sent"
    assert client.post(confirm, {"code": code, "decision": "approve"}).status_code == 302
    with tenant_context(tenant_a):
        quotation.refresh_from_db()
    assert (quotation.status, quotation.decision_channel) == ("accepted", "customer_link")
    assert client.post(confirm, {"code": code}).status_code == 404  # no longer waiting for an answer
    # a draft of the same project cannot be reached through the page
    other = reverse("quotes:progress-decide", args=[token, draft.pk, "request"])
    assert client.post(other, {"decision": "approve"}).status_code == 404


def test_threshold_setting_decides_when_a_discount_needs_approval(tenant_a, people, customer, api_as):
    manager = api_as(people["manager"])
    assert manager.get("/api/v1/quote-settings/current/").json() == {"approval_threshold_bp": 500}
    assert (
        manager.put(
            "/api/v1/quote-settings/current/", {"approval_threshold_bp": 10_001}, format="json"
        ).status_code
        == 400
    )
    assert (
        manager.put(
            "/api/v1/quote-settings/current/", {"approval_threshold_bp": 1_500}, format="json"
        ).status_code
        == 200
    )
    assert (
        api_as(people["sales"])
        .put("/api/v1/quote-settings/current/", {"approval_threshold_bp": 0}, format="json")
        .status_code
        == 403
    )
    with tenant_context(tenant_a):
        quotation = make_quotation(tenant_a, customer=customer, lines=[("全包", 1_000_000, 1)])
    sales = api_as(people["sales"])
    url = f"/api/v1/quotations/{quotation.pk}/discount/"
    within = sales.post(url, {"discount_kind": "percent", "discount_percent": "15"}, format="json").json()
    assert within["discount_approval"] == "not_needed"
    above = sales.post(url, {"discount_kind": "percent", "discount_percent": "15.01"}, format="json").json()
    assert above["discount_approval"] == "pending"
