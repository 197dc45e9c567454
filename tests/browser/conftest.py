"""Headless Chromium on the live server (PostgreSQL), at a desktop and a phone viewport.

Debian's ``chromium`` (installed by ``scripts/ensure_browser.sh`` in CI) is driven by Playwright for
Python; no browser is downloaded at test time. To keep the suite's time bounded the demo company
is seeded once for the whole browser suite and served by one live server (``site``); the tables
are emptied when the session ends, as ``transactional_db`` would (pytest-django runs these tests
after every database test). One browser per module; every test gets fresh contexts (cookies).

A failing test leaves a full-page screenshot under ``var/browser/failures/``; the phone screenshots
of the field pages are written to ``var/browser/`` on every run, to be looked at.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
OUT = Path(settings.BASE_DIR) / "var" / "browser"
DEMO_PASSWORD = "demo12345"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (run scripts/ensure_browser.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's event loop shares the test thread; only while this module's browser is open.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield chromium
            chromium.close()


@dataclass
class Problems:
    """What a page must not do: console errors, uncaught exceptions, failed or 4xx/5xx requests."""

    entries: list[str] = field(default_factory=list)
    expected_statuses: set[int] = field(default_factory=set)

    def watch(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.entries.append(f"pageerror: {error}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _console(self, message) -> None:
        # Chromium echoes every 4xx/5xx as "Failed to load resource"; statuses are judged in _response.
        if message.type == "error" and not message.text.startswith("Failed to load resource: the server"):
            self.entries.append(f"console: {message.text}")

    def _failed(self, request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:
            return  # a download, or a navigation that replaced the page (bad statuses are caught above)
        self.entries.append(f"failed: {request.method} {request.url} {failure}")

    def _response(self, response) -> None:
        if response.status >= 400 and response.status not in self.expected_statuses:
            self.entries.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def take(self) -> list[str]:
        taken, self.entries = self.entries, []
        return taken


@pytest.fixture
def open_page(browser, site, request):
    """``open_page(viewport="phone")`` -> (page, problems); screenshots on failure."""
    contexts = []

    def make(viewport: str = "desktop"):
        context = browser.new_context(
            viewport=VIEWPORTS[viewport], accept_downloads=True, locale="zh-CN", timezone_id="Asia/Shanghai"
        )
        context.set_default_timeout(10_000)
        page = context.new_page()
        problems = Problems()
        problems.watch(page)
        page.base = site.url
        contexts.append((viewport, page))
        return page, problems

    yield make
    report = getattr(request.node, "report_call", None)
    for viewport, page in contexts:
        if report is not None and report.failed:
            target = OUT / "failures"
            target.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            try:
                page.screenshot(path=str(target / f"{name}-{viewport}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - a screenshot must not hide the real failure
                pass
        page.context.close()


def login(page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(f"{page.base}/accounts/login/")
    page.fill('input[name="username"]', username)
    page.fill('input[name="password"]', password)
    page.click('button[type="submit"]')
    page.wait_for_url(f"{page.base}/")


def no_sideways_scroll(page) -> tuple[int, int]:
    return page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")


def screenshot(page, name: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


@dataclass
class Site:
    url: str
    tenant: object
    staff: dict


@pytest.fixture(scope="session")
def site(django_db_setup, django_db_blocker):
    """The demo company 安居家装 with a user for every role (``anju_<role>`` / demo12345), served by
    a live server. Not pytest-django's ``live_server``: that one empties the tables after every test."""
    import importlib

    from django.core.management import call_command
    from django.db import connection, connections
    from django.test.utils import setup_databases, teardown_databases
    from pytest_django.live_server_helper import LiveServer

    from crm import demo as crm_demo
    from crm.tenancy import tenant_context

    created = None
    with django_db_blocker.unblock():
        if connection.settings_dict["NAME"] != connection.creation._get_test_db_name():
            # pytest-django sets up the test database only for tests marked as using it; these
            # tests are deliberately unmarked (see above), so alone they bring their own.
            created = setup_databases(
                verbosity=0, interactive=False, aliases={"default"}, serialized_aliases=set()
            )
        tenant = crm_demo.ensure_tenant("anju", "安居家装（演示）")
        staff = crm_demo.ensure_staff(tenant)
        for module_name in crm_demo.DOMAIN_DEMO_MODULES:
            module = importlib.import_module(module_name)
            with tenant_context(tenant):
                module.seed_demo(tenant=tenant, staff=staff)
    server = LiveServer("localhost:0")
    server._live_server_modified_settings.enable()
    try:
        yield Site(url=server.url, tenant=tenant, staff=staff)
    finally:
        server._live_server_modified_settings.disable()
        server.stop()
        with django_db_blocker.unblock():
            call_command("flush", interactive=False, verbosity=0, allow_cascade=True)
            # A server thread can leave an idle connection behind; it would keep the test
            # database from being dropped at the end of the session.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connections.close_all()
            if created is not None:
                try:
                    teardown_databases(created, verbosity=0)
                except Exception as error:  # noqa: BLE001 - as pytest-django: a warning, not a failure
                    warnings.warn(f"Error when trying to teardown test databases: {error!r}", stacklevel=1)


@pytest.fixture(autouse=True)
def _database_open(site, django_db_blocker):
    """The live server thread and the test itself (reading what the browser wrote) use the database."""
    with django_db_blocker.unblock():
        yield
