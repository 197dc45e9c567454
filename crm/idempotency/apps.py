from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class IdempotencyConfig(AppConfig):
    name = "crm.idempotency"
    label = "idempotency"
    verbose_name = gettext_lazy("幂等键")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "idempotency-prune": {"task": "idempotency.prune", "schedule": crontab(hour=3, minute=40)},
    }

    def ready(self) -> None:
        from . import tasks  # noqa: F401 - register the tasks with the worker
