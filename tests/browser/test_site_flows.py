"""Issue 15's remaining flows in headless Chromium: the pool, handover and its aftercare plans,
two-tap site actions from the workbench (inspection item with a photo, visit with signature and
photos), confirmation before money actions, the customer's code box and thanks, the demo outbox."""

from __future__ import annotations

import datetime
import re

from django.test import override_settings
from django.utils import timezone

from crm.tenancy import tenant_context
from tests.browser.conftest import login, screenshot
from tests.browser.test_flows import assert_call_button, assert_fits, camera_photo


def test_sales_claims_a_customer_from_the_pool(site, open_page):
    from customers.models import Customer
    from tests.customers.factories import CustomerFactory

    with tenant_context(site.tenant):
        pooled = CustomerFactory(tenant=site.tenant, name="公海浏览器客户", phone="+8613811112222")
        Customer.objects.filter(pk=pooled.pk).update(
            in_pool=True, pooled_at=timezone.now(), pool_reason="超时未跟进", owner=None
        )
    page, problems = open_page("phone")
    login(page, "anju_sales")
    page.goto(f"{page.base}/customers/leads/")
    row = page.locator("tr", has_text="公海浏览器客户")
    row.locator("button:has-text('领取')").click()
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        pooled.refresh_from_db()
    assert not pooled.in_pool and pooled.owner == site.staff["sales"]
    assert_fits(page)
    assert not problems.take()


def test_pm_hands_over_and_sees_the_one_three_five_year_plans(site, open_page):
    from projects.models import AcceptanceKind, Stage
    from projects.services.stages import acceptance_record
    from tests.projects.factories import ProjectFactory

    with tenant_context(site.tenant):
        project = ProjectFactory(
            tenant=site.tenant,
            signed=True,
            stage=Stage.COMPLETION_ACCEPTANCE,
            project_manager=site.staff["pm"],
            name="浏览器交付工地",
        )
        acceptance_record(
            tenant=site.tenant,
            project=project,
            recorded_by=site.staff["pm"],
            kind=AcceptanceKind.COMPLETION,
            passed=True,
        )
    page, problems = open_page("phone")
    login(page, "anju_pm")
    page.goto(f"{page.base}/projects/{project.pk}/")
    page.click("button:has-text('交付项目')")
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        project.refresh_from_db()
    assert project.handed_over_on == timezone.localdate()
    page.goto(f"{page.base}/customers/{project.customer_id}/")
    body = page.locator("body").inner_text()
    for plan in ("一年回访", "三年回访", "五年回访"):
        assert plan in body, plan
    assert_fits(page)
    assert not problems.take()


def test_supervisor_fails_an_inspection_item_with_a_photo_in_two_taps(site, open_page, tmp_path):
    from projects.models import InspectionItem, Project, SitePhoto, Stage
    from tests.projects.factories import ProjectFactory

    with tenant_context(site.tenant):
        project = ProjectFactory(
            tenant=site.tenant,
            signed=True,
            stage=Stage.MASONRY,
            project_manager=site.staff["pm"],
            supervisor=site.staff["supervisor"],
            name="一单手质检工地",
        )
        # The oldest overdue stage comes first on the workbench (it lists ten projects).
        Project.objects.filter(pk=project.pk).update(
            stage_entered_at=timezone.now() - datetime.timedelta(days=400)
        )
    page, problems = open_page("phone")
    login(page, "anju_supervisor")
    page.locator("tr", has_text="一单手质检工地").locator("a[data-quick=inspect]").click()  # tap 1
    page.wait_for_load_state()
    form = page.locator("#inspect form")
    assert form.is_visible()
    first = form.locator("tbody tr").first
    first.locator("input[type=radio][value=fail]").check()  # tap 2
    first.locator("input[name^=hazard_]").fill("插座面板松动")
    first.locator("input[type=file]").set_input_files(camera_photo(tmp_path / "item.jpg"))
    page.wait_for_function("() => !document.querySelector('form[data-photos-busy]')")
    assert_fits(page)
    assert_call_button(page)
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        failed = InspectionItem.objects.get(inspection__project=project, passed=False)
        assert failed.hazard == "插座面板松动"
        assert SitePhoto.objects.filter(inspection_item=failed).count() == 1
    assert not problems.take()


def test_service_completes_a_visit_with_signature_and_photos_in_two_taps(site, open_page, tmp_path):
    from aftercare.models import Visit, VisitStatus
    from aftercare.services.visits import SIGNATURE_CAPTION
    from tests.aftercare.factories import MaintenancePlanFactory

    with tenant_context(site.tenant):
        plan = MaintenancePlanFactory(tenant=site.tenant, assigned_to=site.staff["service"])
        visit = Visit.objects.create(
            tenant=site.tenant,
            plan=plan,
            project=plan.project,
            customer=plan.customer,
            technician=site.staff["service"],
            scheduled_at=timezone.now() + datetime.timedelta(hours=1),
            checklist_results=[{"item": "检查水路", "ok": None, "note": ""}],
        )
    page, problems = open_page("phone")
    login(page, "anju_service")
    page.locator(f'a[data-quick=visit][href="/aftercare/plans/{plan.pk}/#complete"]').click()  # tap 1
    page.wait_for_load_state()
    screenshot(page, "phone-visit-signature")
    assert_fits(page)
    assert_call_button(page)
    form = page.locator("#complete form")
    pad = form.locator("canvas[data-signature-pad]")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2)  # tap 2: the customer signs
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 25, box["y"] + box["height"] / 2 + (-1) ** step * 15)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('input[name=signature_image]').files.length === 1")
    form.locator('input[name="photos"]').set_input_files(camera_photo(tmp_path / "visit.jpg"))
    page.wait_for_function("() => !document.querySelector('form[data-photos-busy]')")
    form.locator('input[name="customer_confirmed"]').check()
    form.locator('button[type="submit"]').click()
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        visit.refresh_from_db()
        captions = sorted(photo.caption for photo in visit.photos.all())
    assert visit.status == VisitStatus.COMPLETED
    assert captions == ["", SIGNATURE_CAPTION]
    assert page.locator("img.visit-signature").count() == 1
    assert "上门完成" in page.locator("body").inner_text()
    assert not problems.take()


def test_manager_is_asked_before_cancelling_a_contract(site, open_page):
    from tests.projects.factories import ProjectFactory

    with tenant_context(site.tenant):
        project = ProjectFactory(tenant=site.tenant, signed=True, name="浏览器取消合同")
    page, problems = open_page("desktop")
    login(page, "anju_manager")
    page.goto(f"{page.base}/projects/{project.pk}/")
    cancel = page.locator("form[action$='/cancel/']")
    cancel.locator('input[name="reason"]').fill("客户放弃装修")
    asked = []

    def dismiss(dialog):
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    cancel.locator("button[type=submit]").click()
    page.wait_for_timeout(300)
    assert asked and "确定取消合同" in asked[0]
    with tenant_context(site.tenant):
        project.refresh_from_db()
    assert project.cancelled_at is None  # said no: nothing happened
    page.once("dialog", lambda dialog: dialog.accept())
    cancel.locator("button[type=submit]").click()
    page.wait_for_load_state()
    with tenant_context(site.tenant):
        project.refresh_from_db()
    assert project.cancelled_at is not None
    assert not problems.take()


def test_customer_reloads_keeps_the_code_box_and_is_thanked(site, open_page):
    from crm.notifications.models import SmsMessage
    from projects.models import ChangeOrderStatus
    from projects.services.change_orders import change_order_create, change_order_send
    from projects.services.share import share_link_create
    from tests.projects.factories import ProjectFactory

    with tenant_context(site.tenant):
        project = ProjectFactory(tenant=site.tenant, signed=True, project_manager=site.staff["pm"])
        change_order = change_order_create(
            tenant=site.tenant,
            project=project,
            created_by=site.staff["pm"],
            title="加装浴霸",
            reason="业主要求",
            lines=[{"description": "浴霸", "quantity": 1, "unit_price_fen": 80_000}],
        )
        change_order_send(tenant=site.tenant, change_order=change_order, sent_by=site.staff["pm"])
        _, token = share_link_create(tenant=site.tenant, project=project, created_by=site.staff["pm"])
    page, problems = open_page("phone")
    page.goto(f"{page.base}/projects/progress/{token}/")
    page.locator(f"#co-{change_order.pk}").locator('form:has(input[value="approve"]) button').click()
    page.wait_for_load_state()
    page.reload()
    code_box = page.locator('input[name="code"]')
    assert code_box.is_visible(), "the reload lost the code box"
    assert "一分钟" not in page.locator("body").inner_text()
    with tenant_context(site.tenant):
        sms = SmsMessage.objects.filter(dedupe_key__startswith="projects:co-code").order_by("-id").first()
    code_box.fill(re.search(r"验证码 (\d{6})", sms.message).group(1))
    page.click("form:has(input[name=code]) button[type=submit]")
    page.wait_for_load_state()
    thanks = page.locator("#decided")
    assert thanks.is_visible() and "您已批准变更单「加装浴霸」" in thanks.inner_text()
    with tenant_context(site.tenant):
        change_order.refresh_from_db()
    assert change_order.status == ChangeOrderStatus.APPROVED
    assert_fits(page)
    assert not problems.take()


@override_settings(
    CRM_DEMO=True, CRM_SMS_BACKEND="", EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
)
def test_manager_reads_the_demo_outbox_from_the_navigation(site, open_page):
    from crm.notifications.services import sms_send

    with tenant_context(site.tenant):
        sms_send(
            tenant=site.tenant,
            phone="13900001111",
            message="【安居家装】验证码 246810，10 分钟内有效。",
            dedupe_key="browser-demo-outbox",
            secrets=["246810"],
        )
    page, problems = open_page("phone")
    login(page, "anju_manager")
    page.click("[data-menu-toggle]")
    page.click("#crm-nav-main a:has-text('演示发件箱')")
    page.wait_for_load_state()
    assert "验证码 246810" in page.locator("#demo-sms").inner_text()
    assert_fits(page)
    assert not problems.take()


def test_pages_off_the_navigation_apply_no_inline_style(site, open_page):
    """style-src 'self': a refused inline style is a console error, caught like any other."""
    from aftercare.models import MaintenancePlan, ServiceTicket, Survey
    from customers.models import Customer
    from projects.models import Project
    from projects.services.share import share_link_create
    from referrals.models import ReferralAccount

    tabs = ["stages", "plans", "logs", "inspections", "change_orders", "materials", "callbacks", "share"]
    with tenant_context(site.tenant):
        project = Project.objects.filter(signed_on__isnull=False).first()
        _, token = share_link_create(tenant=site.tenant, project=project, created_by=site.staff["manager"])
        survey = Survey.objects.filter(answered_at__isnull=True).first()
        paths = [
            f"/customers/{Customer.objects.first().pk}/",
            "/customers/new/",
            "/customers/settings/",
            *[f"/projects/{project.pk}/?tab={tab}" for tab in tabs],
            f"/aftercare/plans/{MaintenancePlan.objects.first().pk}/",
            f"/aftercare/tickets/{ServiceTicket.objects.first().pk}/",
            f"/referrals/accounts/{ReferralAccount.objects.first().pk}/",
            "/notifications/",
            "/notifications/settings/",
            "/settings/tokens/",
            "/api/docs/",
            "/admin/",
            "/admin/customers/customer/",
            "/admin/notifications/smsmessage/",
        ]
    public = [f"/projects/progress/{token}/"] + ([f"/aftercare/s/{survey.token}/"] if survey else [])
    page, problems = open_page("desktop")
    login(page, "anju_admin")
    failures = []
    for path in paths:
        response = page.goto(f"{page.base}{path}")
        page.wait_for_load_state("networkidle" if path == "/api/docs/" else "load")
        if response.status != 200:
            failures.append(f"{path}: HTTP {response.status}")
        failures += [f"{path}: {problem}" for problem in problems.take()]
    page.context.clear_cookies()
    for path in public:
        page.goto(f"{page.base}{path}")
        failures += [f"{path}: {problem}" for problem in problems.take()]
    assert not failures, "\n".join(failures)
