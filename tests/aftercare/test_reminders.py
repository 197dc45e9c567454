"""Reminders at tenant offsets and the 30-days-overdue escalation: exactly once, whatever repeats."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection
from django.utils import timezone

from aftercare import tasks
from aftercare.models import AftercareSettings, DispatchKind, MaintenancePlan, ReminderDispatch
from aftercare.services import dates, reminders, settings
from aftercare.services import plans as plans_services
from crm.models import Role
from crm.notifications.models import Notification, SmsMessage
from crm.tenancy import tenant_context
from tests.aftercare.factories import MaintenancePlanFactory
from tests.celery_utils import real_worker

TODAY = datetime.date(2026, 6, 1)


def _plan_due_in(tenant, days: int, **fields) -> MaintenancePlan:
    with tenant_context(tenant):
        return MaintenancePlanFactory(tenant=tenant, due_on=TODAY + datetime.timedelta(days=days), **fields)


def _decide_and_send(tenant, today=TODAY):
    with tenant_context(tenant):
        decided = reminders.reminders_decide(tenant=tenant, today=today)
    with tenant_context(tenant):
        reminders.reminders_send_pending(tenant=tenant)
    return decided


@pytest.mark.django_db
def test_default_offsets_30_and_7_days_each_fire_once(tenant_a):
    due_30 = _plan_due_in(tenant_a, 30)
    due_7 = _plan_due_in(tenant_a, 7)
    not_yet = _plan_due_in(tenant_a, 31)
    between = _plan_due_in(tenant_a, 15)
    assert len(_decide_and_send(tenant_a)) == 2
    assert _decide_and_send(tenant_a) == []  # same day again (duplicate beat): nothing
    with tenant_context(tenant_a):
        pairs = set(ReminderDispatch.objects.values_list("plan_id", "offset_days"))
        assert pairs == {(due_30.pk, 30), (due_7.pk, 7)}
        assert not ReminderDispatch.objects.filter(plan__in=[not_yet, between]).exists()
        assert ReminderDispatch.objects.filter(sent_at=None).count() == 0
        notes = Notification.objects.filter(kind="aftercare_reminder")
        assert sorted(notes.values_list("recipient_id", flat=True)) == sorted(
            [due_30.assigned_to_id, due_7.assigned_to_id]
        )
    # 23 days later the 30-day plan reaches its 7-day offset: a second, different reminder.
    _decide_and_send(tenant_a, today=TODAY + datetime.timedelta(days=23))
    with tenant_context(tenant_a):
        assert set(ReminderDispatch.objects.filter(plan=due_30).values_list("offset_days", flat=True)) == {
            30,
            7,
        }
        assert (
            Notification.objects.filter(kind="aftercare_reminder", recipient=due_30.assigned_to).count() == 2
        )


@pytest.mark.django_db
def test_missed_beat_catches_up_without_doubling(tenant_a):
    plan = _plan_due_in(tenant_a, 28)  # the 30-day beat was missed two days ago
    _decide_and_send(tenant_a)
    _decide_and_send(tenant_a, today=TODAY + datetime.timedelta(days=1))
    with tenant_context(tenant_a):
        assert list(ReminderDispatch.objects.filter(plan=plan).values_list("offset_days", flat=True)) == [30]


@pytest.mark.django_db
def test_tenant_offsets_are_configurable(tenant_a):
    with tenant_context(tenant_a):
        config = settings.aftercare_settings_get(tenant=tenant_a)
        config.reminder_offsets_days = [14, 1]
        config.save()
    plan_14 = _plan_due_in(tenant_a, 14)
    _plan_due_in(tenant_a, 30)
    _decide_and_send(tenant_a)
    with tenant_context(tenant_a):
        assert list(ReminderDispatch.objects.values_list("plan_id", "offset_days")) == [(plan_14.pk, 14)]
        assert AftercareSettings.objects.count() == 1


@pytest.mark.django_db
def test_customer_sms_only_with_consent(tenant_a):
    consenting = _plan_due_in(
        tenant_a, 7, customer_reminder_consent=True, customer_reminder_consent_at=timezone.now()
    )
    silent = _plan_due_in(tenant_a, 7)
    _decide_and_send(tenant_a)
    _decide_and_send(tenant_a)
    with tenant_context(tenant_a):
        sms = list(SmsMessage.objects.all())
        assert [m.phone for m in sms] == [consenting.customer.phone]
        assert silent.customer.phone not in {m.phone for m in sms}
        assert ReminderDispatch.objects.get(plan=consenting).customer_sms_sent is True


@pytest.mark.django_db
def test_consent_is_recorded_with_time(tenant_a):
    plan = _plan_due_in(tenant_a, 60)
    with tenant_context(tenant_a):
        plan = plans_services.plan_update(tenant=tenant_a, plan=plan, customer_reminder_consent=True)
    assert plan.customer_reminder_consent and plan.customer_reminder_consent_at is not None


@pytest.mark.django_db
def test_closed_plans_get_no_reminders(tenant_a):
    _plan_due_in(tenant_a, 7, status="completed")
    assert _decide_and_send(tenant_a) == []


@pytest.mark.django_db
def test_escalates_to_managers_once_at_30_days_overdue(tenant_a, make_staff):
    manager = make_staff(tenant_a, Role.MANAGER)
    manager2 = make_staff(tenant_a, Role.MANAGER)
    overdue_30 = _plan_due_in(tenant_a, -30)
    overdue_29 = _plan_due_in(tenant_a, -29)
    _decide_and_send(tenant_a)
    _decide_and_send(tenant_a, today=TODAY + datetime.timedelta(days=5))
    with tenant_context(tenant_a):
        escalations = ReminderDispatch.objects.filter(kind=DispatchKind.ESCALATION)
        assert sorted(escalations.values_list("plan_id", flat=True)) == [overdue_30.pk, overdue_29.pk]
        notes = Notification.objects.filter(kind="aftercare_escalation")
        assert notes.filter(recipient=manager).count() == 2  # one per plan, never repeated
        assert notes.filter(recipient=manager2).count() == 2
        assert notes.filter(recipient=overdue_30.assigned_to).count() == 0
        assert MaintenancePlan.objects.get(pk=overdue_30.pk).escalated_at is not None


@pytest.mark.django_db
def test_changing_the_escalation_delay_does_not_escalate_a_plan_twice(tenant_a, make_staff):
    """The escalation is once per plan, not once per (plan, delay setting)."""
    make_staff(tenant_a, Role.MANAGER)
    overdue = _plan_due_in(tenant_a, -30)
    _decide_and_send(tenant_a)
    with tenant_context(tenant_a):
        settings.aftercare_settings_update(
            tenant=tenant_a, reminder_offsets_days=[30, 7], escalation_days_overdue=20, warranty_years={}
        )
        first_escalated_at = MaintenancePlan.objects.get(pk=overdue.pk).escalated_at
    _decide_and_send(tenant_a, today=TODAY + datetime.timedelta(days=1))
    with tenant_context(tenant_a):
        assert ReminderDispatch.objects.filter(kind=DispatchKind.ESCALATION, plan=overdue).count() == 1
        assert MaintenancePlan.objects.get(pk=overdue.pk).escalated_at == first_escalated_at


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scans_decide_and_send_each_reminder_once(tenant_a):
    plans = [_plan_due_in(tenant_a, 30) for _ in range(15)] + [_plan_due_in(tenant_a, 7) for _ in range(15)]
    barrier = threading.Barrier(2)
    results: list = []
    errors: list = []

    def scan():
        try:
            barrier.wait(timeout=10)
            with tenant_context(tenant_a):
                decided = reminders.reminders_decide(tenant=tenant_a, today=TODAY)
            with tenant_context(tenant_a):
                sent = reminders.reminders_send_pending(tenant=tenant_a, batch_size=4)
            results.append((len(decided), sent))
        except Exception as error:  # pragma: no cover - surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(decided for decided, _ in results) == 30
    assert sum(sent for _, sent in results) == 30
    with tenant_context(tenant_a):
        assert ReminderDispatch.objects.count() == 30
        assert ReminderDispatch.objects.filter(sent_at=None).count() == 0
        for plan in plans:
            assert (
                Notification.objects.filter(kind="aftercare_reminder", recipient=plan.assigned_to).count()
                == 1
            )


@pytest.mark.django_db(transaction=True)
def test_real_worker_with_duplicated_and_retried_tasks_sends_once(tenant_a):
    """Duplicate beats, a redelivered (same id) task, and a crash between deciding and sending."""
    today = dates.tenant_today(tenant_a)
    plans = [
        _plan_due_in(tenant_a, (today - TODAY).days + offset, customer_reminder_consent=True)
        for offset in (30, 30, 7)
    ]
    crashed = _plan_due_in(tenant_a, (today - TODAY).days + 7)
    # A worker decided this one, then died before sending (the dispatch row committed, unsent).
    with tenant_context(tenant_a):
        ReminderDispatch.objects.create(
            tenant=tenant_a, plan=crashed, offset_days=7, kind=DispatchKind.REMINDER
        )
    with real_worker():
        results = [tasks.reminders_scan.delay(tenant_id=tenant_a.pk) for _ in range(2)]
        results.append(
            tasks.reminders_scan.apply_async(kwargs={"tenant_id": tenant_a.pk}, task_id=results[0].id)
        )
        results.append(tasks.reminders_scan_all.delay())
        for result in results:
            result.get(timeout=30)
        sends = [tasks.reminders_send.delay(tenant_id=tenant_a.pk) for _ in range(2)]
        for result in sends:
            result.get(timeout=30)
        deadline = timezone.now() + datetime.timedelta(seconds=20)
        while timezone.now() < deadline:
            with tenant_context(tenant_a):
                if not ReminderDispatch.objects.filter(sent_at=None).exists():
                    break
    with tenant_context(tenant_a):
        assert ReminderDispatch.objects.count() == 4
        assert ReminderDispatch.objects.filter(sent_at=None).count() == 0
        for plan in [*plans, crashed]:
            assert (
                Notification.objects.filter(kind="aftercare_reminder", recipient=plan.assigned_to).count()
                == 1
            )
        assert SmsMessage.objects.count() == 3  # the three consenting customers, once each


@pytest.mark.django_db
def test_reminder_for_a_departed_assignee_goes_to_managers(tenant_a, make_staff):
    manager = make_staff(tenant_a, Role.MANAGER)
    plan = _plan_due_in(tenant_a, 7)
    plan.assigned_to.is_active = False
    plan.assigned_to.save()
    _decide_and_send(tenant_a)
    with tenant_context(tenant_a):
        assert Notification.objects.filter(kind="aftercare_reminder", recipient=manager).count() == 1


@pytest.mark.django_db
def test_reminder_scan_is_an_indexed_range_query(tenant_a):
    """The decision query can use the partial (tenant, due_on) index of open plans — no full scan."""
    with tenant_context(tenant_a):
        plan = MaintenancePlanFactory(tenant=tenant_a)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(
                "EXPLAIN " + reminders._DECIDE_SQL,
                {
                    "offset": 30,
                    "kind": "reminder",
                    "tenant": tenant_a.pk,
                    "low": plan.due_on,
                    "high": plan.due_on,
                },
            )
            explain = "\n".join(row[0] for row in cursor.fetchall())
    assert "aftercare_plan_open_due_idx" in explain, explain
