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
        "engagement-push-scan": {
            "task": "engagement.push_scan_all",
            "schedule": crontab(minute="*/10"),
        },
    }

    def ready(self) -> None:
        from crm import events
        from crm.extensions import (
            IntakeExtension,
            LeadScoreProvider,
            register_customer_section,
            register_intake_extension,
            register_lead_scores,
            register_personal_data_section,
        )
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_many
        from engagement import extensions, handlers, selectors
        from engagement.services import campaigns

        grant_many(
            {
                "engagement.view": ALL_STAFF,
                "engagement.consent": [Role.SALES, Role.SERVICE, Role.MANAGER],
                "engagement.manage": [Role.MANAGER],
            }
        )
        register_customer_section(extensions.CUSTOMER_SECTION)
        register_intake_extension(
            IntakeExtension(validate=campaigns.intake_validate, apply=campaigns.intake_apply)
        )
        register_lead_scores(
            LeadScoreProvider(
                scores=selectors.lead_scores_by_lead, order_by_score=selectors.leads_order_by_score
            )
        )
        register_personal_data_section(extensions.personal_data)
        from quotes.extensions import register_quotation_section

        register_quotation_section(extensions.quotation_offers_section)
        events.subscribe(events.EventType.LEAD_CREATED, handlers.on_lead_created)
        events.subscribe(events.EventType.CUSTOMER_UPDATED, handlers.on_customer_updated)
        events.subscribe(events.EventType.PROJECT_STAGE_CHANGED, handlers.on_project_stage_changed)
        events.subscribe(events.EventType.AFTERCARE_VISIT_COMPLETED, handlers.on_aftercare_visit_completed)
        events.subscribe(events.EventType.PROJECT_CONTRACT_SIGNED, handlers.on_contract_signed)
        from crm.extensions import register_customer_merge_handler

        register_customer_merge_handler(extensions.merge_customer_rows, undo=extensions.unmerge_customer_rows)
