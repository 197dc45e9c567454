"""Quotations on a phone: the sales rep builds a quotation (totals from the server), the manager
approves a big discount, the PDF downloads."""

from __future__ import annotations

from crm.tenancy import tenant_context
from tests.browser.conftest import login, screenshot
from tests.browser.test_flows import assert_fits


def test_sales_builds_a_quotation_on_a_phone_and_the_manager_approves_the_discount(site, open_page):
    from customers.models import Customer
    from quotes.models import Quotation

    with tenant_context(site.tenant):
        customer = Customer.objects.filter(owner=site.staff["sales"]).first() or Customer.objects.first()
        Customer.objects.filter(pk=customer.pk).update(owner=site.staff["sales"], in_pool=False)
    page, problems = open_page("phone")
    login(page, "anju_sales")
    page.goto(f"{page.base}/customers/{customer.pk}/")
    page.click("text=新建报价单")
    page.fill('input[name="title"]', "浏览器报价")
    page.fill('input[name="area_sqm"]', "50")
    page.click("button:has-text('创建并添加明细')")
    page.wait_for_url("**/quotes/*/")
    page.select_option('select[name="kind"]', "package")
    page.select_option('select[name="package"]', index=1)
    page.click("button:has-text('添加并重新计算')")
    page.wait_for_url("**/quotes/*/")
    assert page.locator("#quotation-total").inner_text() == "¥64,400.00"  # 50 ㎡ × ¥1,288.00
    page.select_option('select[name="kind"]', "free")
    page.fill('input[name="name"]', "阳台封窗")
    page.fill('input[name="unit"]', "㎡")
    page.fill('input[name="unit_price_fen"]', "680.55")
    page.fill('input[name="quantity"]', "6.5")
    page.click("button:has-text('添加并重新计算')")
    page.wait_for_url("**/quotes/*/")
    assert page.locator("#quotation-total").inner_text() == "¥68,823.58"  # + 6.5 × 680.55 = 4,423.575
    page.click("summary:has-text('折扣')")
    page.select_option('select[name="discount_kind"]', "percent")
    page.fill('input[name="discount_percent"]', "10")
    page.click("button:has-text('保存折扣')")
    page.wait_for_url("**/quotes/*/")
    assert page.locator("#quotation-total").inner_text() == "¥61,941.22"
    assert "待经理审批" in page.content()
    assert_fits(page)
    screenshot(page, "phone-quotation-builder")
    with tenant_context(site.tenant):
        quotation = Quotation.objects.get(title="浏览器报价")
    manager_page, _ = open_page("desktop")
    login(manager_page, "anju_manager")
    manager_page.goto(f"{manager_page.base}/quotes/{quotation.pk}/")
    manager_page.click("button:has-text('批准折扣')")
    manager_page.wait_for_url("**/quotes/*/")
    manager_page.click("button:has-text('发送给客户')")
    manager_page.wait_for_url("**/quotes/*/")
    with manager_page.expect_download() as download:
        manager_page.click("text=打印版 PDF")
    assert download.value.suggested_filename.endswith(".pdf")
    with tenant_context(site.tenant):
        quotation.refresh_from_db()
    assert (quotation.status, quotation.total_fen, quotation.discount_approval) == (
        "sent",
        6_194_122,
        "approved",
    )
    assert problems.take() == []
