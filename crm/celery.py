"""The Celery app. Tenant tasks take ``tenant_id`` explicitly and run inside that tenant."""

from __future__ import annotations

import logging
import os

from celery import Celery, Task
from celery.signals import task_postrun
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger("crm.celery")

#: Set by scripts/up.sh: the zero-setup demo may fall back to the local settings (filesystem broker).
DEMO_FLAG = "CRM_DEMO"
if os.environ.get(DEMO_FLAG) == "1":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.local")


class CrmCelery(Celery):
    def on_configure(self) -> None:
        """Refuse to guess the settings: a beat silently started on the local settings (and their
        filesystem broker) next to Redis workers runs no SLA scan and logs no error."""
        if not os.environ.get("DJANGO_SETTINGS_MODULE"):
            raise ImproperlyConfigured(
                "DJANGO_SETTINGS_MODULE is not set: set it (e.g. crm.settings.production) for a "
                f"Celery worker or beat, or set {DEMO_FLAG}=1 for the zero-setup demo (scripts/up.sh)."
            )


app = CrmCelery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class TenantTask(Task):
    """Base for tasks that act on one tenant's rows: ``task.delay(tenant_id=..., ...)``.

    Enters the tenant's context (scoped managers + RLS, one transaction) for the run and leaves it
    afterwards, so a worker never carries the previous task's tenant into the next one.
    """

    abstract = True

    def __call__(self, *args, **kwargs):
        from crm.models import Tenant
        from crm.tenancy import no_tenant, tenant_context

        tenant_id = kwargs.get("tenant_id")
        if tenant_id is None:
            raise TypeError(f"{self.name} must be called with tenant_id=")
        with no_tenant():
            tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
            if tenant is None:
                # The tenant was deleted or deactivated after the task was queued: nothing to do.
                logger.warning("%s skipped: tenant %s is gone or inactive", self.name, tenant_id)
                return None
            with tenant_context(tenant):
                return super().__call__(*args, **kwargs)


@app.on_after_finalize.connect
def _collect_app_beat_schedules(sender: Celery, **kwargs) -> None:
    """Each app may declare ``beat_schedule`` on its AppConfig; merge them into the schedule."""
    from django.apps import apps

    schedule = dict(sender.conf.beat_schedule or {})
    for config in apps.get_app_configs():
        schedule.update(getattr(config, "beat_schedule", {}) or {})
    sender.conf.beat_schedule = schedule


@task_postrun.connect
def _remove_rolled_back_files(**kwargs) -> None:
    """A task whose transaction rolled back leaves no stored files behind (see crm/uploads.py)."""
    from crm.uploads import remove_rolled_back_files

    remove_rolled_back_files()
