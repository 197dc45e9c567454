from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class NotificationsConfig(AppConfig):
    name = "crm.notifications"
    label = "notifications"
    verbose_name = gettext_lazy("通知")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "notifications-requeue-due": {"task": "notifications.requeue_due", "schedule": 60.0},
    }

    def ready(self) -> None:
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_many

        from . import tasks  # noqa: F401 - register the tasks with the worker
        from .badge import connect_signals

        connect_signals()

        grant_many(
            {
                "notifications.view": ALL_STAFF,
                "notifications.manage_settings": [Role.MANAGER],
                "notifications.view_deliveries": [Role.MANAGER],
            }
        )
