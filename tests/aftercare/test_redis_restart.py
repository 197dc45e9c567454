"""Fault test: Redis killed and restarted mid-run (a real redis-server with AOF, started here).

A queued send survives the broker's crash (AOF), the worker reconnects by itself after the
restart, the sweep re-queues what the crash interrupted, and every reminder is done exactly once
in the database. Bounded: the whole run must finish within 60 s.
"""

from __future__ import annotations

import datetime
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from aftercare.models import MaintenancePlan, ReminderDispatch
from aftercare.services import reminders as reminders_services
from crm.celery import app
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from tests.aftercare.factories import HandedOverProjectFactory, PlanKindFactory

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway redis-server with AOF (fsync on every write) in its own directory."""

    def __init__(self, port: int, directory: str) -> None:
        self.port, self.directory = port, directory
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.directory]
            + ["--appendonly", "yes", "--appendfsync", "always", "--save", "", "--protected-mode", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)  # a crash: no clean shutdown, no final save
        self.process.wait(timeout=10)


def _worker(broker: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "crm.settings.test",
        "TEST_REDIS_URL": broker,
        "TEST_DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    command = [sys.executable, "-m", "celery", "-A", "crm", "worker", "--pool=solo", "-l", "WARNING"]
    command += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    log = open(os.environ.get("CRM_FAULT_WORKER_LOG", os.devnull), "w")  # noqa: SIM115 - lives with the worker
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def _send(broker: str, tenant_id: int) -> None:
    """Queue ``aftercare.reminders_send`` on ``broker`` (a fresh connection: the broker restarts)."""
    producer = Celery(broker=broker)
    try:
        producer.send_task("aftercare.reminders_send", kwargs={"tenant_id": tenant_id})
    finally:
        producer.close()


def _sending_in_progress() -> bool:
    """The worker's connection is inside a transaction writing notifications (the send)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL AND query ILIKE %s",
            ["%notifications_%"],
        )
        return cursor.fetchone()[0] > 0


def _unsent(tenant) -> int:
    with tenant_context(tenant):
        return ReminderDispatch.objects.filter(sent_at=None).count()


@pytest.mark.django_db(transaction=True)
def test_redis_restart_mid_run_jobs_resume_and_each_reminder_is_sent_once(tenant_a):
    started = time.monotonic()
    today = datetime.date(2026, 6, 1)
    with tenant_context(tenant_a):
        projects = [HandedOverProjectFactory(tenant=tenant_a) for _ in range(8)]
        kinds = [PlanKindFactory(tenant=tenant_a, code=f"k{n}", name=f"回访{n}") for n in range(10)]
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
        decided = reminders_services.reminders_decide(tenant=tenant_a, today=today)
    assert len(decided) == 80
    app.control.purge()  # the decision queued its send on the suite's broker: this test uses its own

    directory = tempfile.mkdtemp(prefix="crm-redis-")
    redis = RedisServer(_free_port(), directory)
    broker = f"redis://127.0.0.1:{redis.port}/0"
    worker = None
    redis.start()
    try:
        # 1. The send is queued, then the broker crashes before any worker ran: AOF keeps the message.
        _send(broker, tenant_a.pk)
        redis.kill()
        redis.start()
        worker = _worker(broker)
        # 2. The worker runs the recovered message; the broker crashes again while it sends.
        deadline = time.monotonic() + 40
        while not _sending_in_progress():
            assert time.monotonic() < deadline, "the queued send was lost with the broker"
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.01)
        redis.kill()
        time.sleep(1.0)
        redis.start()
        # 3. New work decided after the restart, and beat's sweep (re-queue every tenant with unsent
        #    dispatches), go through the restarted broker: the same worker, reconnected by itself,
        #    finishes everything.
        with tenant_context(tenant_a):
            extra = PlanKindFactory(tenant=tenant_a, code="after", name="重启后")
            MaintenancePlan.objects.bulk_create(
                MaintenancePlan(
                    tenant=tenant_a,
                    project=project,
                    customer_id=project.customer_id,
                    kind=extra,
                    due_on=today + datetime.timedelta(days=7),
                    assigned_to=project.service_owner,
                    checklist=[],
                )
                for project in projects
            )
            assert len(reminders_services.reminders_decide(tenant=tenant_a, today=today)) == 8
        app.control.purge()
        for tenant_id in reminders_services.reminders_unsent_tenant_ids() or [tenant_a.pk]:
            _send(broker, tenant_id)
        deadline = time.monotonic() + 30
        while _unsent(tenant_a):
            assert time.monotonic() < deadline, "the worker did not resume after the broker restart"
            assert worker.poll() is None, "the worker exited"
            time.sleep(0.1)
        # One more sweep after everything is sent decides and sends nothing.
        _send(broker, tenant_a.pk)
        time.sleep(1.0)
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.kill()
        if redis.process is not None and redis.process.poll() is None:
            redis.kill()
        shutil.rmtree(directory, ignore_errors=True)
    with tenant_context(tenant_a):
        assert ReminderDispatch.objects.count() == 88
        assert not ReminderDispatch.objects.filter(sent_at=None).exists()
        reminders = Notification.objects.filter(kind="aftercare_reminder")
        assert reminders.count() == 88  # none lost, none twice
        assert reminders.values("dedupe_key").distinct().count() == 88
    assert time.monotonic() - started < 60
