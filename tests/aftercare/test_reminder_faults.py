"""Fault test: a worker SIGKILLed while sending reminders loses nothing and doubles nothing."""

from __future__ import annotations

import datetime
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from aftercare import tasks
from aftercare.models import MaintenancePlan, ReminderDispatch
from aftercare.services import reminders as reminders_services
from crm.celery import app
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from tests.aftercare.factories import HandedOverProjectFactory, PlanKindFactory
from tests.celery_utils import real_worker

ROOT = Path(__file__).resolve().parents[2]


def _worker_process() -> subprocess.Popen:
    """A real worker in its own process (so it can be SIGKILLed), on the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings.test",
        "TEST_DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    command = [sys.executable, "-m", "celery", "-A", "crm", "worker", "--pool=solo", "-l", "WARNING"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _sending_in_progress() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND query ILIKE %s",
            ["%notifications_%"],
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.django_db(transaction=True)
def test_sigkill_during_reminder_sending_then_sweep_delivers_each_once(tenant_a, settings):
    settings.CRM_REMINDER_SWEEP_GRACE_SECONDS = 0
    today = datetime.date(2026, 6, 1)
    with tenant_context(tenant_a):
        projects = [HandedOverProjectFactory(tenant=tenant_a) for _ in range(8)]
        kinds = [PlanKindFactory(tenant=tenant_a, code=f"k{n}", name=f"回访{n}") for n in range(40)]
        MaintenancePlan.objects.bulk_create(
            MaintenancePlan(
                tenant=tenant_a,
                project=project,
                customer_id=project.customer_id,
                kind=kind,
                due_on=today + datetime.timedelta(days=7),
                assigned_to=project.service_owner,
                checklist=[],
            )
            for project in projects
            for kind in kinds
        )
    app.control.purge()
    with tenant_context(tenant_a):
        decided = reminders_services.reminders_decide(tenant=tenant_a, today=today)  # queues reminders_send
    assert len(decided) == 320

    worker = _worker_process()
    try:
        deadline = time.monotonic() + 60
        while not _sending_in_progress():
            assert time.monotonic() < deadline, "the worker never started sending"
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)  # mid-send: no ack, no commit
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    time.sleep(0.5)  # PostgreSQL notices the dropped connection and rolls its transaction back
    with tenant_context(tenant_a):
        unsent = ReminderDispatch.objects.filter(sent_at=None).count()
    assert unsent > 0  # the kill interrupted a real send; the message sits unacked in Redis

    # A restarted worker: beat's sweeper re-queues the send instead of waiting an hour for Redis.
    with real_worker():
        assert tasks.reminders_sweep.delay().get(timeout=30) == 1
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            with tenant_context(tenant_a):
                if not ReminderDispatch.objects.filter(sent_at=None).exists():
                    break
            time.sleep(0.2)
        tasks.reminders_send.delay(tenant_id=tenant_a.pk).get(timeout=30)  # the redelivered message
    with tenant_context(tenant_a):
        assert ReminderDispatch.objects.count() == 320
        assert not ReminderDispatch.objects.filter(sent_at=None).exists()
        reminders = Notification.objects.filter(kind="aftercare_reminder")
        assert reminders.count() == 320  # one per plan: none lost, none twice
        assert reminders.values("dedupe_key").distinct().count() == 320
    assert reminders_services.reminders_unsent_tenant_ids() == []
