"""Overdue-stage alerts and 14-day construction callbacks: exactly once (concurrent scans, real worker)."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from projects.models import ConstructionCallback, Stage, StageOverdueAlert
from projects.services import callbacks as callbacks_services
from projects.services import contracts, stages
from projects.tasks import create_due_callbacks, dispatch_overdue_alerts, scan_all_tenants, scan_tenant
from tests.celery_utils import real_worker
from tests.projects.factories import ProjectFactory


def _overdue(tenant, pm, days=20, stage=Stage.MASONRY):
    return ProjectFactory(
        tenant=tenant,
        signed=True,
        stage=stage,
        project_manager=pm,
        stage_entered_at=timezone.now() - datetime.timedelta(days=days),
    )


@pytest.mark.django_db
def test_overdue_alert_goes_to_pm_and_managers_once(in_a, people):
    project = _overdue(in_a, people["pm"])
    on_time = _overdue(in_a, people["pm"], days=2)
    assert dispatch_overdue_alerts(tenant=in_a) == 1
    assert dispatch_overdue_alerts(tenant=in_a) == 0
    recipients = set(
        Notification.objects.filter(dedupe_key__startswith="projects:overdue:").values_list(
            "recipient_id", flat=True
        )
    )
    assert recipients == {people["pm"].pk, people["manager"].pk}
    assert StageOverdueAlert.objects.get().project == project
    assert not StageOverdueAlert.objects.filter(project=on_time).exists()


@pytest.mark.django_db
def test_a_new_stage_entry_can_alert_again(in_a, people):
    project = _overdue(in_a, people["pm"], stage=Stage.CARPENTRY)
    assert dispatch_overdue_alerts(tenant=in_a) == 1
    project = stages.project_advance(tenant=in_a, project=project, advanced_by=people["pm"])
    assert dispatch_overdue_alerts(tenant=in_a) == 0  # painting just started
    type(project).objects.filter(pk=project.pk).update(
        stage_entered_at=timezone.now() - datetime.timedelta(days=30)
    )
    assert dispatch_overdue_alerts(tenant=in_a) == 1
    assert StageOverdueAlert.objects.count() == 2


@pytest.mark.django_db
def test_handed_over_and_cancelled_projects_never_alert(in_a, people):
    _overdue(in_a, people["pm"], stage=Stage.HANDOVER)
    p = _overdue(in_a, people["pm"])
    contracts.contract_cancel(tenant=in_a, project=p, cancelled_by=people["manager"], reason="退单")
    assert dispatch_overdue_alerts(tenant=in_a) == 0


@pytest.mark.django_db
def test_callbacks_every_14_days_once_per_period(in_a, people):
    start = timezone.localdate() - datetime.timedelta(days=30)
    project = ProjectFactory(
        tenant=in_a,
        signed=True,
        stage=Stage.MASONRY,
        construction_started_on=start,
        service_owner=people["service"],
    )
    assert create_due_callbacks(tenant=in_a, today=start + datetime.timedelta(days=13)) == 0
    assert create_due_callbacks(tenant=in_a, today=start + datetime.timedelta(days=14)) == 1
    assert create_due_callbacks(tenant=in_a, today=start + datetime.timedelta(days=20)) == 0
    assert create_due_callbacks(tenant=in_a, today=start + datetime.timedelta(days=28)) == 1
    callbacks = list(ConstructionCallback.objects.filter(project=project).order_by("period"))
    assert [(c.period, c.due_on, c.assigned_to) for c in callbacks] == [
        (1, start + datetime.timedelta(days=14), people["service"]),
        (2, start + datetime.timedelta(days=28), people["service"]),
    ]
    assert Notification.objects.filter(recipient=people["service"], kind="project_callback_due").count() == 2
    done = callbacks_services.callback_complete(
        tenant=in_a,
        callback=callbacks[0],
        completed_by=people["service"],
        satisfaction=4,
        comments="工人很守时",
    )
    assert done.satisfaction == 4
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        callbacks_services.callback_complete(
            tenant=in_a, callback=callbacks[1], completed_by=people["service"], satisfaction=6
        )


@pytest.mark.django_db
def test_no_callbacks_outside_construction(in_a, people):
    start = timezone.localdate() - datetime.timedelta(days=30)
    ProjectFactory(tenant=in_a, stage=Stage.DESIGN, construction_started_on=start)
    ProjectFactory(tenant=in_a, stage=Stage.HANDOVER, construction_started_on=start)
    assert create_due_callbacks(tenant=in_a) == 0


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scans_alert_exactly_once(tenant_a, make_staff):
    pm = make_staff(tenant_a, Role.PROJECT_MANAGER)
    make_staff(tenant_a, Role.MANAGER)
    with tenant_context(tenant_a):
        projects = [_overdue(tenant_a, pm) for _ in range(20)]
        start = timezone.localdate() - datetime.timedelta(days=15)
        for project in projects[:10]:
            type(project).objects.filter(pk=project.pk).update(construction_started_on=start)
    barrier = threading.Barrier(2)
    results, errors = [], []

    def scan():
        try:
            barrier.wait(timeout=10)
            with tenant_context(tenant_a):
                results.append(
                    (dispatch_overdue_alerts(tenant=tenant_a), create_due_callbacks(tenant=tenant_a))
                )
        except Exception as error:  # pragma: no cover
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(r[0] for r in results) == 20 and sum(r[1] for r in results) == 10
    with tenant_context(tenant_a):
        assert StageOverdueAlert.objects.count() == 20
        assert ConstructionCallback.objects.count() == 10
        for project in projects:
            alert = StageOverdueAlert.objects.get(project=project)
            assert Notification.objects.filter(dedupe_key=f"projects:overdue:{alert.pk}").count() == 2


@pytest.mark.django_db(transaction=True)
def test_real_worker_duplicated_beats_alert_once(tenant_a, tenant_b, make_staff):
    pm_a = make_staff(tenant_a, Role.PROJECT_MANAGER)
    pm_b = make_staff(tenant_b, Role.PROJECT_MANAGER)
    with tenant_context(tenant_a):
        project_a = _overdue(tenant_a, pm_a)
    with tenant_context(tenant_b):
        project_b = _overdue(tenant_b, pm_b)
    with real_worker():
        assert scan_all_tenants.delay().get(timeout=30) >= 2
        assert scan_all_tenants.delay().get(timeout=30) >= 2
        scan_tenant.delay(tenant_id=tenant_a.pk).get(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with tenant_context(tenant_a):
                done_a = StageOverdueAlert.objects.filter(project_id=project_a.pk).exists()
            with tenant_context(tenant_b):
                done_b = StageOverdueAlert.objects.filter(project_id=project_b.pk).exists()
            if done_a and done_b:
                break
            time.sleep(0.3)
        time.sleep(1)
    with tenant_context(tenant_a):
        assert StageOverdueAlert.objects.count() == 1
        assert Notification.objects.filter(recipient=pm_a, kind="project_stage_overdue").count() == 1
    with tenant_context(tenant_b):
        assert StageOverdueAlert.objects.count() == 1
        assert Notification.objects.filter(recipient=pm_b, kind="project_stage_overdue").count() == 1
