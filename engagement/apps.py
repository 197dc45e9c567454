from celery.schedules import crontab
from django.apps import AppConfig


class EngagementConfig(AppConfig):
    name = "engagement"
    verbose_name = "营销"
    default_auto_field = "django.db.models.BigAutoField"

    beat_schedule = {
        "engagement-lead-scoring-nightly": {
            "task": "engagement.lead_scoring_train_all",
            "schedule": crontab(hour=2, minute=40),
        },
    }

    def ready(self) -> None:
        from crm import events, extensions
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_many
        from engagement import customer_extensions
        from engagement.services import scoring

        grant_many(
            {
                "engagement.view": ALL_STAFF,
                "engagement.consent": [Role.SALES, Role.SERVICE, Role.MANAGER],
                "engagement.manage": [Role.MANAGER],
            }
        )
        extensions.register_customer_panel(customer_extensions.consent_panel)
        extensions.register_customer_timeline(customer_extensions.customer_timeline)
        extensions.register_personal_data_section(customer_extensions.personal_data)
        events.subscribe(events.EventType.LEAD_CREATED, scoring.on_lead_created)
