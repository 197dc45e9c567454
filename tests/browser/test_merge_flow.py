"""A manager merges the demo's suspected duplicate side by side (confirming), then hands a rep's
customers over; screenshots of both pages are written to var/browser/ to be looked at."""

from __future__ import annotations

import re

from crm.tenancy import tenant_context
from customers.demo import _phone as demo_phone
from customers.models import Customer, CustomerMerge
from tests.browser.conftest import login, no_sideways_scroll, screenshot


def test_manager_merges_the_suspected_duplicate_and_reassigns(site, open_page):
    with tenant_context(site.tenant):
        twin = Customer.objects.get(tags__contains=["疑似重复"])
        original = Customer.objects.get(phone=demo_phone(site.tenant, 9))  # the demo's twin of it
    for viewport in ("phone", "desktop"):
        page, problems = open_page(viewport)
        login(page, "anju_manager")
        page.goto(f"{page.base}/customers/merge/?survivor={original.pk}&duplicate={twin.pk}")
        assert page.locator("#merge-table").is_visible()
        width, inner = no_sideways_scroll(page)
        assert width <= inner, f"merge page is {width}px wide on a {inner}px screen"
        screenshot(page, f"customer-merge-{viewport}")
        assert problems.take() == []
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    page.check('#merge-form input[name="confirm"]')
    page.click('#merge-form button[type="submit"]')
    page.wait_for_url(re.compile(r"/customers/merges/\d+/"))
    assert dialogs, "the merge asked for confirmation"
    with tenant_context(site.tenant):
        merge = CustomerMerge.objects.get(duplicate=twin, undone_at__isnull=True)
        assert merge.survivor_id == original.pk
    assert "撤销合并" in page.locator("body").inner_text()

    owner = original.owner_id or site.staff["sales"].pk
    page.goto(f"{page.base}/customers/reassign/?from_owner={owner}")
    screenshot(page, "customer-reassign-desktop")
    page.check(f'#reassign-form input[name="to_users"][value="{site.staff["sales2"].pk}"]')
    page.click('#reassign-form button[type="submit"]')
    page.wait_for_url(re.compile(r"/customers/reassign/"))
    assert "已改派" in page.locator("body").inner_text()
    assert problems.take() == []
