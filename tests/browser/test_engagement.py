"""Engagement pages in headless Chromium: content library, push rules with the "who would receive
this now" preview, results (pushed vs control), the tracked link and the lead inbox by score."""

from __future__ import annotations

import re

from crm.tenancy import tenant_context
from tests.browser.conftest import login, no_sideways_scroll, screenshot


def test_manager_adds_content_and_a_rule_and_sees_who_would_receive_it(site, open_page):
    page, problems = open_page("desktop")
    login(page, "anju_manager")
    page.goto(f"{page.base}/engagement/push-rules/")
    demo_rule = page.locator("tr", has_text="儿童房家庭：安全设计指南")
    assert demo_rule.is_visible()
    pushed, control = (int(demo_rule.locator("td").nth(i).inner_text()) for i in (4, 8))
    assert pushed > 0 and control > 0  # the demo run held out its control group
    screenshot(page, "desktop-push-rules")

    page.goto(f"{page.base}/engagement/content/")
    page.click("details > summary")
    page.fill('input[name="title"]', "浏览器测试：收纳指南")
    page.select_option('select[name="kind"]', "article")
    page.fill('input[name="tags"]', "收纳, 小户型")
    page.click('details form button[type="submit"]')
    page.wait_for_url("**/engagement/content/")
    assert page.locator("tr", has_text="浏览器测试：收纳指南").is_visible()
    screenshot(page, "desktop-content")

    page.goto(f"{page.base}/engagement/push-rules/")
    page.click("details > summary")
    page.fill('input[name="name"]', "浏览器测试规则")
    page.select_option('select[name="item"]', label="浏览器测试：收纳指南")
    page.select_option('select[name="channel"]', "wechat")
    page.fill('input[name="audience_tags"]', "儿童房")
    page.fill('input[name="control_percent"]', "10")
    page.click('details form button[type="submit"]')
    page.wait_for_url(re.compile(r".*/engagement/push-rules/\d+/$"))
    count = int(page.locator("#preview-count strong").inner_text())
    assert count > 0
    screenshot(page, "desktop-push-rule-detail")
    assert problems.take() == []


def test_tracked_link_opens_on_a_phone_and_the_inbox_sorts_by_score(site, open_page):
    from engagement.models import DispatchStatus, PushDispatch
    from engagement.services.tracking import track_url

    with tenant_context(site.tenant):
        sent = PushDispatch.objects.filter(status=DispatchStatus.SENT)
        dispatch = sent.select_related("rule__item").first()
        assert dispatch is not None
        url = track_url(tenant_id=site.tenant.pk, dispatch_id=dispatch.pk)
    page, problems = open_page("phone")
    page.goto(f"{page.base}{url}")
    assert page.locator("h2", has_text=dispatch.rule.item.title).is_visible()
    width, inner = no_sideways_scroll(page)
    assert width <= inner
    screenshot(page, "phone-tracked-link")
    with tenant_context(site.tenant):
        dispatch.refresh_from_db()
        assert dispatch.open_count >= 1

    login(page, "anju_sales")
    page.goto(f"{page.base}/customers/leads/?sort=score")
    assert page.locator("a[role=button]", has_text="按评分排序").is_visible()
    screenshot(page, "phone-lead-inbox-by-score")
    assert problems.take() == []
