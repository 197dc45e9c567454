"""The beat keeps the default dashboard views of tenants in use computed (analytics.tasks): the real
task on a real worker, real PostgreSQL and Redis. After it, a manager's first look is served from
the per-tenant cache with the numbers the selectors compute; another tenant's never are."""

from __future__ import annotations

import datetime
import re
import time

import pytest
from django.core.cache import cache
from django.utils import translation

from analytics import cache as panel_cache
from analytics import selectors, tasks
from analytics.cache import ACTIVE_PREFIX, WARM_PRESETS, default_scope, panel_cache_key
from analytics.scope import parse_scope
from crm.celery import app
from crm.models import Role, Tenant
from crm.tenancy import tenant_context
from tests.analytics.test_dashboard_cost import _inquiries
from tests.celery_utils import real_worker
from tests.customers.factories import CustomerFactory


@pytest.fixture(autouse=True)
def _no_activity_marks():
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"*{ACTIVE_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


def _panel_keys(tenant: Tenant, language: str = "zh-hans") -> list[str]:
    with tenant_context(tenant), translation.override(language):
        scopes = [default_scope(tenant, preset) for preset in WARM_PRESETS]
        return [panel_cache_key(scope, key) for scope in scopes for key in selectors.PANELS]


def _drop_cached_panels() -> None:
    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"*{panel_cache.KEY_PREFIX}:*", count=1000))
    if keys:
        client.delete(*keys)


def _wait_for_keys(keys: list[str], timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = cache.get_many(keys)
        if len(found) == len(keys):
            return found
        time.sleep(0.2)
    raise AssertionError(f"{len(keys) - len(cache.get_many(keys))} of {len(keys)} panels were never warmed")


def _computed_at(page: str) -> datetime.datetime:
    match = re.search(r'data-computed-at="([^"]+)"', page)
    assert match, "the page says when its numbers were computed"
    return datetime.datetime.fromisoformat(match.group(1))


def _customers(tenant: Tenant, owner, count: int) -> None:
    with tenant_context(tenant):
        for index in range(count):
            CustomerFactory(tenant=tenant, name=f"本月{index}", source_channel="douyin", owner=owner)


@pytest.mark.django_db(transaction=True)
def test_beat_warms_active_tenants_and_first_look_is_served_from_their_own_cache(
    tenant_a, tenant_b, manager_a, admin_b, make_staff, session_client, django_assert_max_num_queries
):
    _customers(tenant_a, make_staff(tenant_a, Role.SALES), 3)
    _customers(tenant_b, make_staff(tenant_b, Role.SALES), 1)
    client = session_client(manager_a)
    client.get("/")  # the per-user page facts (session, badge) every page reads from Redis
    with django_assert_max_num_queries(80) as computed:
        first = client.get("/dashboard/")  # the manager's activity marks tenant A as in use
    assert _inquiries(first.content.decode()) == 3
    _drop_cached_panels()  # … and then the 5 minutes pass
    tenant_b_keys = _panel_keys(tenant_b)

    with real_worker():
        assert tasks.dashboards_warm_all.delay().get(timeout=30) == 1  # tenant A only
        warmed = _wait_for_keys(_panel_keys(tenant_a))
    assert not cache.get_many(tenant_b_keys), "an idle tenant costs nothing"
    with tenant_context(tenant_a):  # a duplicated beat finds them fresh and redoes nothing
        assert panel_cache.warm_dashboards(tenant_a, ["zh-hans"]) == 0
    assert cache.get_many(_panel_keys(tenant_a)) == warmed
    warmed_at = [datetime.datetime.fromisoformat(panel["computed_at"]) for panel in warmed.values()]

    # The manager's first look: every panel from the cache, the numbers the selectors compute now.
    with django_assert_max_num_queries(len(computed.captured_queries) - 20):
        page = client.get("/dashboard/").content.decode()
    assert _inquiries(page) == 3
    assert min(warmed_at) <= _computed_at(page) <= max(warmed_at)
    with tenant_context(tenant_a):
        for preset in WARM_PRESETS:
            scope = parse_scope({"range": preset}, tenant=tenant_a, user=manager_a)
            served = panel_cache.dashboard(scope)
            for panel in served:
                direct = selectors.panel_data(panel["key"], scope)
                assert {**panel, "computed_at": None} == {**direct, "computed_at": None}, panel["key"]

    # Tenant B's manager never sees A's warmed numbers: B's page computes B's own.
    page_b = session_client(admin_b).get("/dashboard/").content.decode()
    assert _inquiries(page_b) == 1
    assert _computed_at(page_b) > max(warmed_at)


@pytest.mark.django_db(transaction=True)
def test_warm_up_covers_each_language_managers_used_and_only_managers_mark_a_tenant(
    tenant_a, tenant_b, manager_a, make_staff, session_client
):
    sales = make_staff(tenant_a, Role.SALES)
    session_client(sales).get("/dashboard/")  # a sales user's own figures: not a manager's look
    assert panel_cache.active_languages([tenant_a.pk, tenant_b.pk]) == {}
    assert tasks.dashboards_warm_all() == 0

    client = session_client(manager_a)
    client.get("/dashboard/")
    client.cookies["crm_language"] = "en"
    assert "Sales funnel" in client.get("/dashboard/").content.decode()
    active = panel_cache.active_languages([tenant_a.pk, tenant_b.pk])
    assert {tenant: sorted(found) for tenant, found in active.items()} == {tenant_a.pk: ["en", "zh-hans"]}
    _drop_cached_panels()
    with real_worker():
        assert tasks.dashboards_warm_all.delay().get(timeout=30) == 1
        english = _wait_for_keys(_panel_keys(tenant_a, "en"))
        chinese = _wait_for_keys(_panel_keys(tenant_a, "zh-hans"))
    assert {panel["title"] for panel in english.values()} != {panel["title"] for panel in chinese.values()}

    Tenant.objects.filter(pk=tenant_a.pk).update(is_active=False)
    assert tasks.dashboards_warm_all() == 0  # a deactivated tenant is not warmed


def test_warm_up_is_on_the_beat_inside_the_cache_lifetime():
    entry = app.conf.beat_schedule["analytics-dashboards-warm"]
    assert entry["task"] == "analytics.dashboards_warm_all"
    assert set(entry["schedule"].minute) == set(range(0, 60, panel_cache.WARM_EVERY_SECONDS // 60))
    assert panel_cache.cache_seconds() > panel_cache.WARM_EVERY_SECONDS
    assert entry["options"]["expires"] == panel_cache.WARM_EVERY_SECONDS  # no backlog of stale beats
    assert tasks.dashboard_warm.acks_late  # durable: a worker lost mid-warm-up leaves it queued
