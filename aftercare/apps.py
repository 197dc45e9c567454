from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AftercareConfig(AppConfig):
    name = "aftercare"
    verbose_name = gettext_lazy("售后")
    default_auto_field = "django.db.models.BigAutoField"

    beat_schedule = {
        "aftercare-reminders-daily": {
            "task": "aftercare.reminders_scan_all",
            "schedule": crontab(hour=8, minute=30),
        },
        "aftercare-reminders-sweep": {"task": "aftercare.reminders_sweep", "schedule": 60.0},
        "aftercare-ticket-sla": {
            "task": "aftercare.ticket_sla_scan_all",
            "schedule": crontab(minute="*/5"),
        },
    }

    def ready(self) -> None:
        from aftercare import extensions, handlers
        from crm import events
        from crm.extensions import (
            register_customer_involvement,
            register_customer_section,
            register_dashboard_widget,
        )
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_duties, grant_many

        grant_duties({"aftercare.handle_visits": [Role.SERVICE]})
        grant_many(
            {
                "aftercare.view": ALL_STAFF,
                "aftercare.edit": [Role.SERVICE, Role.MANAGER, Role.PROJECT_MANAGER, Role.SUPERVISOR],
                "aftercare.manage": [Role.MANAGER],
                "surveys.view": [Role.SERVICE, Role.MANAGER, Role.SALES],
                "surveys.send": [Role.SERVICE, Role.MANAGER],
            }
        )
        events.subscribe(events.EventType.PROJECT_HANDED_OVER, handlers.on_project_handed_over)
        events.subscribe(events.EventType.PROJECT_MILESTONE, handlers.on_project_milestone)
        register_customer_section(extensions.CUSTOMER_SECTION)
        register_customer_involvement(extensions.customers_worked_on)
        register_dashboard_widget(extensions.dashboard_widget)
        from crm.extensions import register_customer_merge_handler

        register_customer_merge_handler(extensions.merge_customer_rows)
