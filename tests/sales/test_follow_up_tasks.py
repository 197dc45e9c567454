"""A follow-up's next follow-up time is the customer's open follow-up task (issue 14 §4: one mechanism)."""

from __future__ import annotations

import datetime
import importlib

from django.apps import apps as django_apps
from django.db import connection
from django.utils import timezone

from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from customers.models import Customer
from customers.services import follow_ups
from sales import services
from sales.models import Task, TaskKind
from tests.customers.factories import CustomerFactory
from tests.sales.factories import in_hours, make_task


def _follow_up(tenant, customer, author, *, occurred_at=None, next_at=None, content="客户说下周再联系"):
    return follow_ups.follow_up_create(
        tenant=tenant,
        customer=customer,
        author=author,
        kind="call",
        content=content,
        occurred_at=occurred_at,
        next_follow_up_at=next_at,
    )


def test_next_time_opens_moves_and_closes_one_task(tenant_a, make_staff, django_capture_on_commit_callbacks):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        first_plan = in_hours(24)
        with django_capture_on_commit_callbacks(execute=True):
            first = _follow_up(tenant_a, customer, rep, next_at=first_plan)
        task = Task.objects.get(customer=customer)
        assert (task.kind, task.assignee, task.due_at, task.remind_at) == (
            TaskKind.FOLLOW_UP,
            rep,
            first_plan,
            first_plan,
        )
        assert task.follow_up == first and task.done_at is None
        second_plan = in_hours(48)
        with django_capture_on_commit_callbacks(execute=True):
            second = _follow_up(tenant_a, customer, rep, next_at=second_plan, content="约了周末看方案")
        task.refresh_from_db()
        assert Task.objects.filter(customer=customer).count() == 1
        assert task.due_at == second_plan and task.follow_up == second and "周末" in task.note
        # Running the sync again (a redelivered event) changes nothing.
        services.follow_up_task_sync(tenant=tenant_a, customer_id=customer.pk)
        assert Task.objects.filter(customer=customer).count() == 1


def test_owner_gets_the_task_and_a_touch_after_the_plan_closes_it(
    tenant_a, make_staff, django_capture_on_commit_callbacks
):
    owner, helper = make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=owner)
        past = timezone.now() - datetime.timedelta(hours=5)
        with django_capture_on_commit_callbacks(execute=True):
            _follow_up(
                tenant_a, customer, helper, occurred_at=past, next_at=past + datetime.timedelta(hours=1)
            )
        task = Task.objects.get(customer=customer)
        assert task.assignee == owner  # the owner follows up, whoever wrote the note
        with django_capture_on_commit_callbacks(execute=True):
            _follow_up(tenant_a, customer, owner, content="已回电")
        task.refresh_from_db()
        assert task.done_at is not None
        assert not Task.objects.filter(customer=customer, done_at__isnull=True).exists()


def test_follow_up_reminder_is_the_task_reminder_exactly_once(
    tenant_a, make_staff, django_capture_on_commit_callbacks
):
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep)
        past = timezone.now() - datetime.timedelta(hours=2)
        with django_capture_on_commit_callbacks(execute=True):
            follow_up = _follow_up(
                tenant_a, customer, rep, occurred_at=past, next_at=past + datetime.timedelta(hours=1)
            )
        make_task(tenant_a, customer=customer, assignee=rep, title="寄样板", remind_at=in_hours(-1))
        make_task(tenant_a, customer=customer, assignee=rep, title="以后", remind_at=in_hours(3))
        assert services.task_reminders_send_due(tenant=tenant_a) == 2
        assert services.task_reminders_send_due(tenant=tenant_a) == 0
        note = Notification.objects.get(dedupe_key=f"follow-up-due:{follow_up.pk}")
        assert note.recipient == rep and note.kind == "follow_up_due" and customer.name in note.title
        assert Notification.objects.filter(kind="task_due", recipient=rep).count() == 1


def test_customers_scan_no_longer_reminds_and_beat_runs_the_task_scan():
    from customers.tasks import scan_tenant

    assert not hasattr(follow_ups, "follow_up_reminder_scan")
    assert "follow_ups" not in scan_tenant.__wrapped__.__code__.co_names
    schedule = django_apps.get_app_config("sales").beat_schedule
    assert schedule["sales-task-reminders"]["task"] == "sales.task_reminders_scan_all"


def test_data_migration_turns_planned_next_times_into_tasks(tenant_a, make_staff):
    rep = make_staff(tenant_a, Role.SALES)
    gone = make_staff(tenant_a, Role.SALES, is_active=False)
    with tenant_context(tenant_a):
        owned = CustomerFactory(tenant=tenant_a, owner=rep)
        orphan = CustomerFactory(tenant=tenant_a, owner=gone)
        plain = CustomerFactory(tenant=tenant_a, owner=rep)
        past = timezone.now() - datetime.timedelta(hours=3)
        reminded = _follow_up(tenant_a, owned, rep, occurred_at=past, next_at=in_hours(-1))
        _follow_up(tenant_a, orphan, rep, next_at=in_hours(20))
        type(reminded).objects.filter(pk=reminded.pk).update(reminded_at=timezone.now())
        Task.objects.all().delete()  # the state before this app existed: plans only on customers
        migration = importlib.import_module("sales.migrations.0003_follow_up_next_times_become_tasks")
        migration.forwards(django_apps, connection.schema_editor())
        tasks = {task.customer_id: task for task in Task.objects.all()}
        assert set(tasks) == {owned.pk, orphan.pk} and plain.pk not in tasks
        assert tasks[owned.pk].assignee == rep and tasks[owned.pk].reminded_at is not None
        assert tasks[orphan.pk].assignee == rep  # owner left: the author who planned it
        assert tasks[orphan.pk].due_at == Customer.objects.get(pk=orphan.pk).next_follow_up_at
        assert services.task_reminders_send_due(tenant=tenant_a) == 0  # no second reminder
        migration.forwards(django_apps, connection.schema_editor())
        assert Task.objects.count() == 2


def test_merge_moves_appointments_and_tasks_and_keeps_one_open_follow_up(tenant_a, make_staff):
    from crm import extensions
    from sales.extensions import merge_customer_rows
    from tests.sales.factories import make_appointment

    assert merge_customer_rows in [handler for handler, _undo in extensions.customer_merge_handlers()]
    rep = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        source = CustomerFactory(tenant=tenant_a, owner=rep)
        target = CustomerFactory(tenant=tenant_a, owner=rep)
        appointment = make_appointment(tenant_a, customer=source, staff=rep)
        todo = make_task(tenant_a, customer=source, assignee=rep)
        stale = make_task(tenant_a, customer=source, assignee=rep, kind=TaskKind.FOLLOW_UP)
        kept = make_task(tenant_a, customer=target, assignee=rep, kind=TaskKind.FOLLOW_UP)
        moved = merge_customer_rows(tenant=tenant_a, source=source, target=target, actor=rep, merge=None)
        assert sorted(len(ids) for ids in moved["moved"].values()) == [1, 2]
        for row in (appointment, todo, stale, kept):
            row.refresh_from_db()
            assert row.customer_id == target.pk
        assert stale.done_at is not None and kept.done_at is None
