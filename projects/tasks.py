"""Periodic project jobs: overdue-stage alerts and construction callbacks (exactly once each)."""

from __future__ import annotations

from celery import shared_task
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.celery import TenantTask, app
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant
from crm.tasks import active_tenant_ids
from crm.tenancy import require_tenant
from projects import selectors
from projects.models import CONSTRUCTION_STAGES, Project, StageOverdueAlert


def _notify(**kwargs) -> None:
    from crm.notifications.services import notify

    notify(**kwargs)


def dispatch_overdue_alerts(*, tenant, now=None) -> int:
    """Alert the PM and managers once per (project, stage entry): the unique dispatch row decides."""
    now = now or timezone.now()
    names = selectors.stage_names(tenant=tenant)
    managers = staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)
    sent = 0
    with transaction.atomic():
        due = (
            selectors.overdue_projects(tenant=tenant, now=now)
            .select_related("project_manager")
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("id")
        )
        for project in due:
            try:
                with transaction.atomic():
                    alert = StageOverdueAlert.objects.create(
                        tenant=tenant,
                        project=project,
                        stage=project.stage,
                        stage_entered_at=project.stage_entered_at,
                    )
            except IntegrityError:
                continue  # already alerted for this stage entry
            recipients = {user.pk: user for user in managers}
            if project.project_manager_id:
                recipients[project.project_manager_id] = project.project_manager
            _notify(
                tenant=tenant,
                recipients=list(recipients.values()),
                kind="project_stage_overdue",
                title=f"项目「{project.name}」{names[project.stage]}阶段已超期",
                body=f"进入阶段：{timezone.localtime(project.stage_entered_at):%Y-%m-%d}",
                link=f"/projects/{project.pk}/",
                dedupe_key=f"projects:overdue:{alert.pk}",
            )
            sent += 1
    return sent


def create_due_callbacks(*, tenant, today=None) -> int:
    """Every 14 days of construction, one callback task for customer service (unique per period)."""
    from projects.services.callbacks import callback_create_if_due

    today = today or timezone.localdate()
    created = 0
    with transaction.atomic():
        projects = (
            Project.objects.filter(
                stage__in=list(CONSTRUCTION_STAGES),
                construction_started_on__isnull=False,
                cancelled_at__isnull=True,
            )
            .select_related("service_owner")
            .select_for_update(skip_locked=True, of=("self",))
        )
        for project in projects:
            callback = callback_create_if_due(tenant=tenant, project=project, today=today)
            if callback is None:
                continue
            created += 1
            if project.service_owner_id:
                _notify(
                    tenant=tenant,
                    recipients=[project.service_owner],
                    kind="project_callback_due",
                    title=f"施工回访：{project.name}（第 {callback.period} 次）",
                    link=f"/projects/{project.pk}/?tab=callbacks",
                    dedupe_key=f"projects:callback:{callback.pk}",
                )
    return created


@app.task(base=TenantTask, name="projects.scan_tenant")
def scan_tenant(*, tenant_id: int) -> dict:
    tenant = require_tenant()
    return {
        "overdue_alerts": dispatch_overdue_alerts(tenant=tenant),
        "callbacks": create_due_callbacks(tenant=tenant),
    }


@shared_task(name="projects.scan_all_tenants")
def scan_all_tenants() -> int:
    tenant_ids = active_tenant_ids()
    for tenant_id in tenant_ids:
        scan_tenant.delay(tenant_id=tenant_id)
    return len(tenant_ids)
