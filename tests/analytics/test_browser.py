"""The dashboard in headless Chromium: charts are drawn, and a funnel number opens its list.

Needs Debian's ``chromium`` (CI installs it with ``scripts/ensure_browser.sh``).
"""

from __future__ import annotations

import os
import shutil

import pytest

from tests.analytics.conftest import build_month
from tests.analytics.test_panels_more import build_more
from tests.factories import DEFAULT_PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MARCH = "range=custom&start=2025-03-01&end=2025-03-31"
CANVAS_HAS_INK = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
  return false;
}"""


@pytest.fixture
def browser_page(monkeypatch):
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (run scripts/ensure_browser.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's event loop shares the test thread; undone after the test (the deploy check refuses it).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


def _login(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill('input[name="username"]', user.username)
    page.fill('input[name="password"]', DEFAULT_PASSWORD)
    page.click('button[type="submit"], input[type="submit"]')
    page.wait_for_url(f"{live_server.url}/")


def test_dashboard_draws_charts_and_funnel_numbers_open_their_list(
    transactional_db, live_server, browser_page, tenant_a, manager_a, make_staff
):
    build_more(tenant_a, build_month(tenant_a, make_staff))
    page = browser_page
    violations = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and violations.append(message.text),
    )
    _login(page, live_server, manager_a)
    page.goto(f"{live_server.url}/dashboard/?{MARCH}")
    page.wait_for_selector(".analytics-chart canvas")
    canvases = page.query_selector_all(".analytics-chart canvas")
    assert len(canvases) >= 14  # panels 1–8
    for key in ("aftercare", "referrals", "satisfaction", "customer_value"):
        assert page.query_selector(f"#panel-{key} .analytics-chart canvas"), key
    assert not violations, violations
    assert all(canvas.evaluate(CANVAS_HAS_INK) for canvas in canvases), "a chart canvas is blank"
    if os.environ.get("ANALYTICS_SCREENSHOTS"):
        page.screenshot(path=f"{os.environ['ANALYTICS_SCREENSHOTS']}/dashboard-1280.png", full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        page.wait_for_selector(".analytics-chart canvas")
        page.screenshot(path=f"{os.environ['ANALYTICS_SCREENSHOTS']}/dashboard-390.png", full_page=True)
    link = page.locator(
        '#panel-funnel table[data-table="steps"] tr[data-row="measured"] td[data-column="count"] a'
    )
    count = int(link.inner_text())
    assert count == 2
    link.click()
    page.wait_for_url("**/customers/**")
    assert f"共 {count} 位客户" in page.content()


def test_workbenches_render_with_charts_for_each_role(
    transactional_db, live_server, browser_page, tenant_a, manager_a, make_staff
):
    from crm.models import Role

    month = build_month(tenant_a, make_staff)
    service = make_staff(tenant_a, Role.SERVICE, display_name="客服甲")
    page = browser_page
    violations = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and violations.append(message.text),
    )
    for role, user in (
        ("manager", manager_a),
        ("sales", month.s2),
        ("delivery", month.pm2),
        ("service", service),
    ):
        page.context.clear_cookies()
        _login(page, live_server, user)
        section = page.wait_for_selector(f'[data-workbench="{role}"]')
        assert section.is_visible()
        canvas = page.wait_for_selector(f'[data-workbench="{role}"] .analytics-chart canvas')
        assert canvas.evaluate(CANVAS_HAS_INK), f"the {role} workbench chart is blank"
        if role == "sales":
            # L4 waits past its deadline: the live countdown (static/js/crm.js) says so.
            assert page.locator('[data-workbench="sales"] .countdown').first.inner_text().strip()
        if os.environ.get("ANALYTICS_SCREENSHOTS"):
            folder = os.environ["ANALYTICS_SCREENSHOTS"]
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=f"{folder}/workbench-{role}-1280.png", full_page=True)
            page.set_viewport_size({"width": 390, "height": 844})
            page.screenshot(path=f"{folder}/workbench-{role}-390.png", full_page=True)
            page.set_viewport_size({"width": 1280, "height": 900})
    assert not violations, violations
