"""What the dashboard costs and how fresh it is: a bounded number of statements whatever the data,
and a per-tenant cache of a few minutes that the page announces (analytics/cache.py)."""

from __future__ import annotations

import datetime
import re

from django.utils.http import urlencode

from analytics.cache import panel_cache_key
from analytics.scope import parse_scope
from crm.tenancy import tenant_context
from customers.models import Customer
from tests.analytics.conftest import at
from tests.customers.factories import CustomerFactory

# Session, user, tenant, transaction, tenant setting, JIT off, the panels' statements (~60 with the
# managers' widgets and rosters), whatever the number of customers, projects or leads.
MAX_QUERIES = 80


def _inquiries(page: str) -> int:
    section = page.split('id="panel-funnel"')[1].split("</section>")[0]
    table = section.split('data-table="steps"')[1].split("</table>")[0]
    match = re.search(
        r'<tr data-row="inquiry">.*?<td data-column="count"><a href="[^"]+">([\d,]+)</a>', table, re.S
    )
    assert match, table
    return int(match.group(1).replace(",", ""))


def _more_customers(tenant, month, count: int) -> None:
    with tenant_context(tenant):
        for index in range(count):
            customer = CustomerFactory(
                tenant=tenant, name=f"加量{index}", source_channel="douyin", owner=month.s1
            )
            Customer.objects.filter(pk=customer.pk).update(created_at=at(3, 10 + index % 10))


def test_dashboard_statements_are_bounded_and_do_not_grow_with_data(
    session_client, manager_a, month_a, march, django_assert_max_num_queries
):
    client = session_client(manager_a)
    client.get("/")  # warm the per-user page facts (session, badge) that every page reads from Redis
    with django_assert_max_num_queries(MAX_QUERIES) as first:
        assert client.get(f"/dashboard/?{urlencode(march)}").status_code == 200
    _more_customers(manager_a.tenant, month_a, 12)
    with django_assert_max_num_queries(MAX_QUERIES) as second:
        page = client.get(f"/dashboard/?{urlencode({**march, 'refresh': '1'})}").content.decode()
    assert _inquiries(page) == 4 + 12
    assert len(second.captured_queries) == len(first.captured_queries)
    # Served from the cache: none of the panels' statements run again.
    with django_assert_max_num_queries(len(first.captured_queries) - 20):
        assert client.get(f"/dashboard/?{urlencode(march)}").status_code == 200


def test_cached_numbers_say_when_they_were_computed_until_refreshed(
    session_client, manager_a, month_a, march
):
    client = session_client(manager_a)
    page = client.get(f"/dashboard/?{urlencode(march)}").content.decode()
    computed = re.search(r'data-computed-at="([^"]+)"', page)
    assert computed and "数据计算于" in page and "最多缓存 5 分钟" in page
    assert _inquiries(page) == 4
    _more_customers(manager_a.tenant, month_a, 1)
    cached = client.get(f"/dashboard/?{urlencode(march)}").content.decode()
    assert _inquiries(cached) == 4 and re.search(r'data-computed-at="([^"]+)"', cached).group(
        1
    ) == computed.group(1)
    fresh = client.get(f"/dashboard/?{urlencode({**march, 'refresh': '1'})}").content.decode()
    assert _inquiries(fresh) == 5
    when = datetime.datetime.fromisoformat(re.search(r'data-computed-at="([^"]+)"', fresh).group(1))
    assert when >= datetime.datetime.fromisoformat(computed.group(1))


def test_cache_keys_never_mix_tenants_viewers_or_filters(
    tenant_a, tenant_b, manager_a, admin_b, month_a, march
):
    with tenant_context(tenant_a):
        mine = parse_scope(march, tenant=tenant_a, user=manager_a)
        douyin = parse_scope({**march, "channel": "douyin"}, tenant=tenant_a, user=manager_a)
        s1 = parse_scope(march, tenant=tenant_a, user=month_a.s1)
        s2 = parse_scope(march, tenant=tenant_a, user=month_a.s2)
        s1_as_manager = parse_scope({**march, "sales": str(month_a.s1.pk)}, tenant=tenant_a, user=manager_a)
    with tenant_context(tenant_b):
        theirs = parse_scope(march, tenant=tenant_b, user=admin_b)
    keys = [panel_cache_key(scope, "funnel") for scope in (mine, douyin, s1, s2, s1_as_manager, theirs)]
    assert len(set(keys)) == len(keys)
    assert keys[0].startswith(f"analytics:panel:{tenant_a.pk}:funnel:")
    assert keys[-1].startswith(f"analytics:panel:{tenant_b.pk}:funnel:")
