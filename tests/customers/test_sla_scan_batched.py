"""The SLA breach scan decides and notifies a whole batch in a constant number of statements."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.events import EventType
from crm.events.models import Event
from crm.models import Role
from crm.notifications.models import Channel, Delivery, Notification, NotificationSettings, RobotKind
from crm.notifications.services import NotificationSpec, notify, notify_many
from crm.tenancy import tenant_context
from customers.models import LeadSlaBreach
from customers.services import leads as leads_services
from customers.services import settings
from tests.customers.factories import LeadFactory


def _overdue(tenant, assignee, count: int):
    received = timezone.now() - datetime.timedelta(minutes=30)
    return [
        LeadFactory(
            tenant=tenant,
            assignee=assignee,
            received_at=received,
            first_response_due_at=received + datetime.timedelta(minutes=15),
        )
        for _ in range(count)
    ]


def _scan_statements(tenant) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        breached = leads_services.lead_sla_scan(tenant=tenant)
    return breached, [query["sql"] for query in captured.captured_queries]


def test_statements_do_not_grow_with_the_batch(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES, email="s@example.com")
    make_staff(tenant_a, Role.MANAGER, email="m@example.com")
    with tenant_context(tenant_a):
        settings.customer_settings_for(tenant=tenant_a)  # not created inside the measured scan
        _overdue(tenant_a, sales, 2)
        small, small_sql = _scan_statements(tenant_a)
        _overdue(tenant_a, sales, 12)
        large, large_sql = _scan_statements(tenant_a)
    assert (small, large) == (2, 12)
    assert len(large_sql) == len(small_sql)
    assert len(large_sql) <= 17, large_sql  # savepoints of the test transaction included


def test_batch_notifies_like_notify(tenant_a, make_staff):
    """Same rows as one notify() per breach: recipients, one email each, reassignment."""
    sales = make_staff(tenant_a, Role.SALES, email="s@example.com")
    sales2 = make_staff(tenant_a, Role.SALES, email="")
    manager = make_staff(tenant_a, Role.MANAGER, email="m@example.com")
    with tenant_context(tenant_a):
        row = settings.customer_settings_for(tenant=tenant_a)
        row.reassign_on_breach = True
        row.save()
        leads = _overdue(tenant_a, sales, 3)
        assert leads_services.lead_sla_scan(tenant=tenant_a) == 3
        assert leads_services.lead_sla_scan(tenant=tenant_a) == 0
        for lead in leads:
            lead.refresh_from_db()
            key = f"lead-sla-breach:{lead.pk}"
            recipients = set(
                Notification.objects.filter(dedupe_key=key).values_list("recipient_id", flat=True)
            )
            assert recipients == {sales.pk, manager.pk, sales2.pk}
            assert lead.sla_breached and lead.assignee_id == sales2.pk
            assert lead.customer.owner_id == sales2.pk
            breach = LeadSlaBreach.objects.get(lead=lead)
            assert breach.notified == 3 and breach.reassigned_to_id == sales2.pk
            assert breach.assignee_id == sales.pk
            emails = Delivery.objects.filter(dedupe_key=key, channel=Channel.EMAIL)
            assert sorted(emails.values_list("target", flat=True)) == ["m@example.com", "s@example.com"]


def test_notify_many_is_idempotent_and_skips_existing(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES, email="s@example.com")
    manager = make_staff(tenant_a, Role.MANAGER, email="m@example.com")
    with tenant_context(tenant_a):
        assert notify(tenant=tenant_a, recipients=[sales], kind="k", title="t", dedupe_key="a") == 1
        specs = [
            NotificationSpec(recipients=[sales, manager], kind="k", title="t", dedupe_key="a"),
            NotificationSpec(recipients=[manager, manager], kind="k", title="t2", body="b", dedupe_key="b"),
        ]
        assert notify_many(tenant=tenant_a, notifications=specs) == {"a": 1, "b": 1}
        assert notify_many(tenant=tenant_a, notifications=specs) == {"a": 0, "b": 0}
        assert Notification.objects.filter(dedupe_key="a").count() == 2
        note = Notification.objects.get(dedupe_key="b")
        assert (note.recipient_id, note.title, note.body) == (manager.pk, "t2", "b")
        assert Delivery.objects.filter(channel=Channel.EMAIL).count() == 3


def test_notify_many_refuses_another_tenants_user(tenant_a, tenant_b, make_staff):
    other = make_staff(tenant_b, Role.SALES)
    with tenant_context(tenant_a), pytest.raises(ValueError):
        notify_many(
            tenant=tenant_a,
            notifications=[NotificationSpec(recipients=[other], kind="k", title="t", dedupe_key="x")],
        )


def test_notify_many_posts_the_group_robot_once_per_key(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES, email="")
    manager = make_staff(tenant_a, Role.MANAGER, email="")
    with tenant_context(tenant_a):
        NotificationSettings.objects.create(
            tenant=tenant_a,
            robot_kind=RobotKind.WECOM,
            robot_url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=x",
            robot_enabled=True,
        )
        specs = [
            NotificationSpec(recipients=[sales, manager], kind="k", title="t", dedupe_key=key)
            for key in ("a", "b")
        ]
        notify_many(tenant=tenant_a, notifications=specs)
        notify_many(tenant=tenant_a, notifications=specs)
        robots = Delivery.objects.filter(channel=Channel.WEBHOOK).order_by("dedupe_key")
        assert [(d.dedupe_key, d.target) for d in robots] == [("a", "wecom"), ("b", "wecom")]
        first = Notification.objects.filter(dedupe_key="a").order_by("pk").first()
        assert robots[0].notification_id == first.pk


def test_scan_announces_every_breach_and_reassignment(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        row = settings.customer_settings_for(tenant=tenant_a)
        row.reassign_on_breach = True
        row.save()
        leads = _overdue(tenant_a, sales, 4)
        Event.objects.all().delete()
        leads_services.lead_sla_scan(tenant=tenant_a)
        breached = Event.objects.filter(type=EventType.LEAD_SLA_BREACHED)
        assigned = Event.objects.filter(type=EventType.LEAD_ASSIGNED)
        expected = sorted(lead.pk for lead in leads)
        assert sorted(event.payload["lead_id"] for event in breached) == expected
        assert sorted(event.payload["lead_id"] for event in assigned) == expected
