"""The nightly recompute reads only the customers whose time-based axes went stale."""

from __future__ import annotations

import datetime

from django.db import connection
from django.utils import timezone

from crm.tenancy import tenant_context
from customers.models import Activity, Customer, FollowUpStatus
from customers.services import classification, customers
from customers.services.settings import customer_settings_for


def _customers(tenant, count: int, start: int = 0) -> list[Customer]:
    return [
        customers.customer_create(tenant=tenant, name=f"客户{i}", phone=f"138{i:08d}")
        for i in range(start, start + count)
    ]


def test_recompute_due_touches_only_stale_rows_and_matches_the_full_recompute(tenant_a):
    now = timezone.now()
    old = now - datetime.timedelta(days=45)
    with tenant_context(tenant_a):
        fresh = _customers(tenant_a, 20)
        untouched, touched_long_ago, touched_again = _customers(tenant_a, 3, start=100)
        Customer.objects.filter(pk=untouched.pk).update(created_at=old)
        Customer.objects.filter(pk=touched_long_ago.pk).update(last_touch_at=old)
        # Silent in the table although touched yesterday (written around the services).
        Customer.objects.filter(pk=touched_again.pk).update(
            last_touch_at=now - datetime.timedelta(days=1), activity=Activity.SILENT
        )
        settings_row = customer_settings_for(tenant=tenant_a)
        due = classification.customers_due_for_recompute(settings_row=settings_row, now=now)
        assert sorted(due.values_list("pk", flat=True)) == sorted(
            [untouched.pk, touched_long_ago.pk, touched_again.pk]
        )
        assert classification.customers_recompute_due(tenant=tenant_a, now=now) == 3
        assert classification.customers_recompute_due(tenant=tenant_a, now=now) == 0
        assert classification.customers_recompute_all(tenant=tenant_a) == 0  # nothing left stale
        by_pk = Customer.objects.in_bulk([untouched.pk, touched_long_ago.pk, touched_again.pk, fresh[0].pk])
    assert (by_pk[untouched.pk].activity, by_pk[untouched.pk].follow_up_status) == (
        Activity.SILENT,
        FollowUpStatus.FIRST_CONTACT,
    )
    assert (by_pk[touched_long_ago.pk].activity, by_pk[touched_long_ago.pk].follow_up_status) == (
        Activity.SILENT,
        FollowUpStatus.DORMANT,
    )
    assert (by_pk[touched_again.pk].activity, by_pk[touched_again.pk].follow_up_status) == (
        Activity.ACTIVE,
        FollowUpStatus.FOLLOWING,
    )
    assert by_pk[fresh[0].pk].activity == Activity.ACTIVE


def test_the_due_read_is_an_index_range_on_the_cutoff(tenant_a):
    """Under RLS every arm of the due query is an index condition (no filter over the tenant)."""
    now = timezone.now()
    with tenant_context(tenant_a):
        # Enough up-to-date rows that reading them all would be the expensive plan.
        Customer.objects.bulk_create(
            Customer(
                tenant=tenant_a,
                name=f"客户{i}",
                phone=f"139{i:08d}",
                activity=Activity.ACTIVE,
                last_touch_at=now - datetime.timedelta(days=1) if i % 2 else None,
            )
            for i in range(3000)
        )
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")
        settings_row = customer_settings_for(tenant=tenant_a)
        due = classification.customers_due_for_recompute(settings_row=settings_row, now=now)
        assert due.count() == 0
        sql, params = due.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "cust_activity_touch_idx" in plan and "cust_activity_untouched_idx" in plan, plan
    assert plan.count("Index Cond") == 4 and "last_touch_at <" in plan and "created_at >=" in plan, plan
