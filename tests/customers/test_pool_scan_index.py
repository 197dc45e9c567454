"""The idle pool scan reads only customers it may pool, not every idle customer of the tenant."""

from __future__ import annotations

import datetime
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, Intent, Lifecycle
from customers.services import pool


def test_idle_arm_is_an_index_range_over_poolable_customers_only(tenant_a, make_staff):
    """Signed (or lost) customers idle for years stay with their owner: they must not be in the
    range the scan reads every minute (before, 2/3 of a 10,000-customer tenant was)."""
    owner = make_staff(tenant_a, Role.SALES)
    long_ago = timezone.now() - datetime.timedelta(days=400)
    with tenant_context(tenant_a):
        Customer.objects.bulk_create(
            Customer(
                tenant=tenant_a,
                name=f"客户{i}",
                phone=f"139{i:08d}",
                owner=owner,
                # 10 poolable; the rest signed (handed over) or lost, idle as long.
                lifecycle=Lifecycle.HANDED_OVER if i % 2 else Lifecycle.LEAD,
                intent=Intent.POTENTIAL if i % 300 == 0 else Intent.SIGNED if i % 2 else Intent.LOST,
                last_touch_at=long_ago if i % 3 else None,
            )
            for i in range(3000)
        )
        Customer.objects.update(created_at=long_ago)  # auto_now_add ignores a given value
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")
        with CaptureQueriesContext(connection) as captured:
            assert pool.lead_pool_scan(tenant=tenant_a) == 10
        statements = [query["sql"] for query in captured.captured_queries]
        idle = next(sql for sql in statements if sql.startswith('UPDATE "customers_customer"'))
        assert set(Customer.objects.filter(in_pool=True).values_list("intent", flat=True)) == {
            Intent.POTENTIAL
        }
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + idle)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "cust_idle_touched_idx" in plan and "cust_idle_untouched_idx" in plan, plan
    assert "cust_tenant_lifecycle_idx" not in plan and "Seq Scan on customers_customer" not in plan, plan
    # Both arms together read at most the entries of the 10 rows just pooled (dead versions until
    # vacuum), never the 2,990 signed or lost idle customers: they are not in the indexes at all.
    arms = [line for line in plan.splitlines() if "Index Scan on cust_idle_" in line]
    read = [int(re.search(r"rows=(\d+) loops", line).group(1)) for line in arms]
    assert len(read) == 2 and sum(read) <= 20, plan
