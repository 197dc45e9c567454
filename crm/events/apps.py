from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class EventsConfig(AppConfig):
    name = "crm.events"
    label = "outbox"
    verbose_name = gettext_lazy("事件")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "outbox-sweep": {"task": "outbox.sweep", "schedule": 60.0},
    }

    def ready(self) -> None:
        from crm.models import Role
        from crm.permissions import grant_many

        from . import tasks  # noqa: F401 - register the tasks with the worker

        grant_many({"events.view": [Role.MANAGER], "events.replay": [Role.MANAGER]})
