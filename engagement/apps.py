from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class EngagementConfig(AppConfig):
    name = "engagement"
    verbose_name = gettext_lazy("营销")
    default_auto_field = "django.db.models.BigAutoField"

    beat_schedule = {
        "engagement-lead-scoring-nightly": {
            "task": "engagement.lead_scoring_train_all",
            "schedule": crontab(hour=2, minute=40),
        },
    }

    def ready(self) -> None:
        from crm import events
        from crm.extensions import (
            register_customer_panel,
            register_customer_timeline,
            register_personal_data_section,
        )
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_many
        from engagement import extensions, handlers

        grant_many(
            {
                "engagement.view": ALL_STAFF,
                "engagement.consent": [Role.SALES, Role.SERVICE, Role.MANAGER],
                "engagement.manage": [Role.MANAGER],
            }
        )
        register_customer_panel(extensions.consent_panel)
        register_customer_timeline(extensions.customer_timeline)
        register_personal_data_section(extensions.personal_data)
        events.subscribe(events.EventType.LEAD_CREATED, handlers.on_lead_created)
        from crm.extensions import register_customer_merge_handler

        register_customer_merge_handler(extensions.merge_customer_rows, undo=extensions.unmerge_customer_rows)
