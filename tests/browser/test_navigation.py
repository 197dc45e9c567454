"""Every role opens every page of its navigation at a desktop and a phone viewport: no console
error, no failed request, no 4xx/5xx, and on the phone nothing wider than the screen."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, no_sideways_scroll

ROLES = ["sales", "designer", "pm", "supervisor", "service", "manager", "admin"]


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_every_role_opens_every_page_in_its_navigation(open_page, viewport):
    failures = []
    for role in ROLES:
        page, problems = open_page(viewport)
        login(page, f"anju_{role}")
        links = page.eval_on_selector_all(
            "#crm-nav-main a[href]", "links => links.map(a => a.getAttribute('href'))"
        )
        assert links, f"{role} sees no navigation"
        for href in ["/", *links]:
            response = page.goto(f"{page.base}{href}")
            if response.status != 200:
                failures.append(f"{role} {href}: HTTP {response.status}")
            failures += [f"{role} {href}: {problem}" for problem in problems.take()]
            if viewport == "phone":
                width, inner = no_sideways_scroll(page)
                if width > inner:
                    failures.append(f"{role} {href}: {width}px wide on a {inner}px screen")
        page.context.close()
    assert not failures, "\n".join(failures)
