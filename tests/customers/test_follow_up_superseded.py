"""``FollowUp.superseded_at`` (customers 0014): after any sequence of writes — the follow-up
service (back-dated too), factories and bulk inserts, merges and their undo, moves in time and
deletions — the marker says exactly what the anti-join said: a follow-up is open when no later
follow-up (by ``occurred_at``) exists on the same customer."""

from __future__ import annotations

import datetime
import importlib
import random

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUp
from customers.services import follow_ups
from customers.services import merge as merge_service
from tests.customers.factories import CustomerFactory, FollowUpFactory

MIGRATION = importlib.import_module("customers.migrations.0015_follow_up_superseded_marker")


def _by_definition() -> dict[int, bool]:
    """follow-up id -> open, by the anti-join the workbench used to run."""
    later = FollowUp.objects.filter(
        customer_id=OuterRef("customer_id"), occurred_at__gt=OuterRef("occurred_at")
    )
    return dict(FollowUp.objects.annotate(superseded=Exists(later)).values_list("pk", "superseded"))


def _by_marker() -> dict[int, bool]:
    return {pk: at is not None for pk, at in FollowUp.objects.values_list("pk", "superseded_at")}


def _assert_marker_matches():
    expected = _by_definition()
    assert expected, "no follow-ups: the comparison would prove nothing"
    assert _by_marker() == expected


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_marker_equals_anti_join_after_random_writes(seed, tenant_a, tenant_b, make_staff, manager_a):
    rng = random.Random(seed)
    rep = make_staff(tenant_a, Role.SALES)
    now = timezone.now()
    with tenant_context(tenant_b):  # another tenant's rows never change ours, nor ours theirs
        other = CustomerFactory(tenant=tenant_b)
        FollowUpFactory(tenant=tenant_b, customer=other, occurred_at=now)
    with tenant_context(tenant_a):
        customers = [CustomerFactory(tenant=tenant_a, owner=rep) for _ in range(5)]
        merges = []
        for _step in range(40):
            op = rng.choice(
                ["service", "service", "factory", "bulk", "move", "retime", "delete", "merge", "undo"]
            )
            live = list(Customer.objects.filter(pk__in=[c.pk for c in customers], merged_into__isnull=True))
            customer = rng.choice(live)
            # Minutes in the last days; collisions on purpose (equal times are both open).
            when = now - datetime.timedelta(minutes=rng.choice([0, 30, 30, 600, 2000, 5000]))
            if op == "service":
                follow_ups.follow_up_create(
                    tenant=tenant_a,
                    customer=customer,
                    author=rep,
                    kind=rng.choice(["call", "note", "wechat"]),
                    content="沟通",
                    occurred_at=when,
                    next_follow_up_at=when + datetime.timedelta(days=1),
                    now=now,
                )
            elif op == "factory":
                FollowUpFactory(tenant=tenant_a, customer=customer, author=rep, occurred_at=when)
            elif op == "bulk":
                FollowUp.objects.bulk_create(
                    [
                        FollowUp(
                            tenant=tenant_a,
                            customer=rng.choice(live),
                            kind="call",
                            content="批量",
                            occurred_at=when - datetime.timedelta(minutes=rng.randint(0, 3000)),
                        )
                        for _ in range(rng.randint(1, 4))
                    ]
                )
            elif op in ("move", "retime", "delete"):
                row = FollowUp.objects.order_by("?").first()
                if row is None:
                    continue
                if op == "move":
                    FollowUp.objects.filter(pk=row.pk).update(customer=rng.choice(live))
                elif op == "retime":
                    row.occurred_at = when
                    row.save()  # the admin's way: every column written
                else:
                    row.delete()
            elif op == "merge" and len(live) > 2:
                survivor, duplicate = rng.sample(live, 2)
                merges.append(
                    merge_service.customer_merge(
                        tenant=tenant_a, survivor=survivor, duplicate=duplicate, actor=manager_a
                    )
                )
            elif op == "undo" and merges:
                merge = merges.pop()
                survivor = Customer.objects.get(pk=merge.survivor_id)
                if not survivor.is_merged:
                    merge_service.customer_merge_undo(tenant=tenant_a, merge=merge, actor=manager_a)
            _assert_marker_matches()
        open_count = sum(1 for superseded in _by_marker().values() if not superseded)
        assert 0 < open_count < FollowUp.objects.count()  # both states occurred
    with tenant_context(tenant_b):
        _assert_marker_matches()


def test_back_dated_follow_up_is_superseded_at_once_and_later_one_supersedes(tenant_a, make_staff):
    rep = make_staff(tenant_a, Role.SALES)
    now = timezone.now()
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        first = follow_ups.follow_up_create(
            tenant=tenant_a,
            customer=customer,
            author=rep,
            kind="call",
            content="首次",
            now=now,
            next_follow_up_at=now + datetime.timedelta(days=1),
        )
        back_dated = follow_ups.follow_up_create(
            tenant=tenant_a,
            customer=customer,
            author=rep,
            kind="visit",
            content="补记上周上门",
            occurred_at=now - datetime.timedelta(days=3),
            now=now,
        )
        first.refresh_from_db()
        back_dated.refresh_from_db()
        assert first.superseded_at is None and back_dated.superseded_at is not None
        follow_ups.follow_up_create(
            tenant=tenant_a,
            customer=customer,
            author=rep,
            kind="call",
            content="再次",
            now=now,
            occurred_at=now + datetime.timedelta(minutes=1),
        )
        first.refresh_from_db()
        assert first.superseded_at is not None


def test_migration_backfill_equals_anti_join(tenant_a, make_staff):
    rep = make_staff(tenant_a, Role.SALES)
    now = timezone.now()
    with tenant_context(tenant_a):
        for customer in [CustomerFactory(tenant=tenant_a, owner=rep) for _ in range(4)]:
            for minutes in (0, 10, 10, 300):
                FollowUpFactory(
                    tenant=tenant_a, customer=customer, occurred_at=now - datetime.timedelta(minutes=minutes)
                )
        FollowUp.objects.update(superseded_at=None)  # as before the migration (time and customer unchanged)
        assert not any(_by_marker().values())
        with connection.cursor() as cursor:
            cursor.execute(MIGRATION.BACKFILL)
        _assert_marker_matches()
        assert sum(_by_marker().values()) == 12  # per customer: all but the newest (both 10-minute-old ones)
