"""The field flows end to end in headless Chromium (phone viewport for field roles)."""

from __future__ import annotations

import io
import re

from django.utils import timezone

from crm.tenancy import tenant_context
from tests.browser.conftest import login, no_sideways_scroll, screenshot


def camera_photo(path) -> str:
    """A 4000×3000 JPEG of about 12.8 MB: over the server's 10 MB cap unless the page scales it down."""
    from PIL import Image

    noise = Image.effect_noise((4000, 3000), 90).convert("RGB")
    gradient = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(noise, gradient, 0.3).save(buffer, "JPEG", quality=97)
    assert buffer.tell() > 10 * 1024 * 1024
    path.write_bytes(buffer.getvalue())
    return str(path)


def assert_fits(page) -> None:
    width, inner = no_sideways_scroll(page)
    assert width <= inner, f"{page.url} is {width}px wide on a {inner}px screen"


def assert_call_button(page) -> None:
    """A call button (``a.crm-call``, tel:) the thumb can reach: visible, inside the screen, a tap
    target at least 32 px tall."""
    boxes = page.evaluate(
        """() => Array.from(document.querySelectorAll('a.crm-call[href^="tel:"]')).map(a => {
            const r = a.getBoundingClientRect();
            return {left: r.left, right: r.right, height: r.height, w: innerWidth};
          }).filter(r => r.height > 0)"""
    )
    assert boxes, f"{page.url}: no visible call button"
    reachable = [b for b in boxes if b["left"] >= 0 and b["right"] <= b["w"] and b["height"] >= 32]
    assert reachable, f"{page.url}: no call button on screen and big enough: {boxes}"


def test_sales_registers_a_lead_sees_the_countdown_and_stops_the_clock(site, open_page):
    from customers.models import Lead

    page, problems = open_page("phone")
    problems.expected_statuses.add(400)  # the bad phone number is answered 400 with the form
    login(page, "anju_sales")
    screenshot(page, "phone-workbench")
    assert_fits(page)
    page.goto(f"{page.base}/customers/leads/")
    page.fill('input[name="name"]', "浏览器测试")
    page.fill('input[name="phone"]', "12345")
    page.click('form:has(input[name="phone"]) button[type="submit"]')
    error = page.locator('label:has(input[name="phone"]) .errorlist')
    assert error.is_visible() and error.inner_text().strip()
    page.fill('input[name="phone"]', "13912345678")
    page.click('form:has(input[name="phone"]) button[type="submit"]')
    page.wait_for_url("**/customers/leads/")
    row = page.locator("tr.lead-row", has_text="浏览器测试")
    countdown = row.locator(".countdown")
    first = countdown.inner_text()
    assert re.search(r"\d+:\d\d", first), first
    page.wait_for_timeout(1100)
    assert countdown.inner_text() != first, "the countdown does not tick"
    call = row.locator('a.crm-call[href="tel:+8613912345678"]')
    assert call.is_visible()
    screenshot(page, "phone-lead-inbox")
    assert_fits(page)
    assert_call_button(page)
    page.goto(f"{page.base}/")  # the workbench lists waiting leads with their call buttons
    assert page.locator('[data-table="leads"] a.crm-call').first.is_visible()
    screenshot(page, "phone-workbench-lead")
    assert_fits(page)
    assert_call_button(page)
    page.goto(f"{page.base}/customers/leads/")
    row = page.locator("tr.lead-row", has_text="浏览器测试")

    row.locator("td.crm-card-title a").click()
    page.wait_for_url(re.compile(r"/customers/\d+/"))
    assert page.locator('a.crm-call[href^="tel:"]').first.is_visible()
    screenshot(page, "phone-customer-detail")
    assert_fits(page)
    assert_call_button(page)
    page.fill('#follow-up textarea[name="content"]', "电话联系，约周六量房")
    page.click('#follow-up button[type="submit"]')
    page.wait_for_load_state()
    assert "分钟响应" in page.locator("body").inner_text()
    with tenant_context(site.tenant):
        lead = Lead.objects.get(customer__name="浏览器测试")
    assert lead.first_responded_at is not None
    page.goto(f"{page.base}/customers/leads/")
    assert page.locator("tr.lead-row", has_text="浏览器测试").count() == 0
    assert not problems.take()


def test_pm_writes_a_daily_log_with_a_camera_photo_and_is_stopped_by_the_acceptance_gate(
    site, open_page, tmp_path
):
    from projects.models import DailyLog, Stage
    from tests.projects.factories import ProjectFactory

    with tenant_context(site.tenant):
        project = ProjectFactory(
            tenant=site.tenant,
            signed=True,
            stage=Stage.PLUMBING_ELECTRICAL,
            project_manager=site.staff["pm"],
            name="浏览器测试工地",
        )
    page, problems = open_page("phone")
    problems.expected_statuses.add(400)  # the refused stage move is answered 400 with the form
    login(page, "anju_pm")
    page.goto(f"{page.base}/projects/{project.pk}/?tab=logs")
    page.click("summary:has-text('写施工日志')")
    date = page.locator('input[name="log_date"]')
    assert date.input_value() == timezone.localdate().isoformat()  # the default date shows
    photos = page.locator('input[name="photos"]')
    assert photos.get_attribute("capture") == "environment"
    page.fill('textarea[name="work_done"]', "水电开槽完成")
    photos.set_input_files(camera_photo(tmp_path / "site.jpg"))
    page.wait_for_function(
        "() => !document.querySelector('form[data-photos-busy]') && "
        "document.querySelector('input[name=photos]').files[0].size < 10 * 1024 * 1024"
    )
    page.click('form:has(textarea[name="work_done"]) button[type="submit"]')
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        log = DailyLog.objects.get(project=project)
        assert log.log_date == timezone.localdate() and log.photos.count() == 1
    page.goto(f"{page.base}/projects/{project.pk}/?tab=logs")
    assert page.locator(".proj-log img").count() == 1
    screenshot(page, "phone-project-logs")
    assert_fits(page)
    assert_call_button(page)

    page.goto(f"{page.base}/projects/{project.pk}/")
    page.select_option('select[name="to_stage"]', Stage.MASONRY)
    page.click('form:has(select[name="to_stage"]) button[type="submit"]')
    page.wait_for_load_state()
    assert "水电隐蔽工程验收未通过" in page.locator("body").inner_text()
    with tenant_context(site.tenant):
        project.refresh_from_db()
    assert project.stage == Stage.PLUMBING_ELECTRICAL
    assert not problems.take()


def test_service_completes_a_visit_with_a_photo(site, open_page, tmp_path):
    from aftercare.models import Visit

    with tenant_context(site.tenant):
        visit = Visit.objects.filter(completed_at__isnull=True).select_related("plan").first()
    assert visit is not None, "the demo has a booked visit"
    page, problems = open_page("phone")
    login(page, "anju_service")
    page.goto(f"{page.base}/aftercare/plans/{visit.plan_id}/")
    screenshot(page, "phone-visit-form")
    assert_fits(page)
    assert_call_button(page)
    form = page.locator("#complete form")
    for select in form.locator("select").all():
        options = select.locator("option").all()
        if len(options) > 1:
            select.select_option(index=1)
    form.locator('textarea[name="findings"]').fill("防水正常，门锁调整")
    form.locator('input[name="customer_confirmed"]').check()
    form.locator('input[name="photos"]').set_input_files(camera_photo(tmp_path / "visit.jpg"))
    page.wait_for_function("() => !document.querySelector('form[data-photos-busy]')")
    form.locator('button[type="submit"]').click()
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        visit.refresh_from_db()
    assert visit.completed_at is not None
    assert not problems.take()


def test_customer_approves_a_change_order_with_the_sms_code(site, open_page):
    from crm.notifications.models import SmsMessage
    from projects.models import ChangeOrder, ChangeOrderStatus
    from projects.services.share import share_link_create

    with tenant_context(site.tenant):
        change_order = (
            ChangeOrder.objects.filter(status=ChangeOrderStatus.SENT).select_related("project").first()
        )
        assert change_order is not None, "the demo has a change order waiting for the customer"
        _, token = share_link_create(
            tenant=site.tenant, project=change_order.project, created_by=site.staff["pm"]
        )
    page, problems = open_page("phone")
    page.goto(f"{page.base}/projects/progress/{token}/")
    article = page.locator(f"#co-{change_order.pk}")
    article.locator('form:has(input[value="approve"]) button').click()
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        sms = SmsMessage.objects.order_by("-created_at", "-id").first()
    code = re.search(r"\d{6}", sms.message).group(0)
    page.fill('input[name="code"]', code)
    page.click("form:has(input[name=code]) button[type=submit]")
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        change_order.refresh_from_db()
    assert change_order.status == ChangeOrderStatus.APPROVED
    assert_fits(page)
    assert not problems.take()


def test_manager_sees_charts_and_downloads_a_real_xlsx(site, open_page, tmp_path):
    import openpyxl

    page, problems = open_page("desktop")
    login(page, "anju_manager")
    page.goto(f"{page.base}/dashboard/")
    page.wait_for_selector(".analytics-chart canvas")
    inked = page.eval_on_selector_all(
        ".analytics-chart canvas",
        """canvases => canvases.map(c => {
          const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < d.length; i += 4) if (d[i]) return true;
          return false;
        })""",
    )
    assert inked and all(inked), inked
    page.goto(f"{page.base}/customers/")
    with page.expect_download() as download_info:
        page.click("a:has-text('导出 Excel')")
    path = tmp_path / "customers.xlsx"
    download_info.value.save_as(path)
    workbook = openpyxl.load_workbook(path)
    assert workbook.active.max_row > 1
    assert not problems.take()
