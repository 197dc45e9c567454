from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = gettext_lazy("转介绍")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "referrals-nightly-reconcile": {
            "task": "referrals.reconcile_all_tenants",
            "schedule": crontab(hour=2, minute=40),
        },
    }

    def ready(self) -> None:
        from crm import events
        from crm.extensions import (
            register_customer_section,
            register_dashboard_widget,
        )
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_many
        from referrals import extensions, handlers

        grant_many(
            {
                "referrals.view": ALL_STAFF,
                "referrals.edit": [Role.SALES, Role.SERVICE, Role.MANAGER],
                "referrals.redeem": [Role.SALES, Role.SERVICE, Role.MANAGER],
                "referrals.adjust": [Role.MANAGER],
                "referrals.vip_decide": [Role.MANAGER],
                "referrals.settings": [Role.MANAGER],
            }
        )
        events.subscribe(events.EventType.LEAD_CREATED, handlers.on_lead_created)
        events.subscribe(events.EventType.PROJECT_CONTRACT_SIGNED, handlers.on_contract_signed)
        events.subscribe(events.EventType.PROJECT_CONTRACT_CANCELLED, handlers.on_contract_cancelled)
        events.subscribe(events.EventType.SURVEY_ANSWERED, handlers.on_survey_answered)
        register_customer_section(extensions.CUSTOMER_SECTION)
        register_dashboard_widget(extensions.referral_dashboard_widget)
        from crm.extensions import register_customer_merge_handler

        register_customer_merge_handler(
            extensions.merge_customer_referrals, undo=extensions.unmerge_customer_referrals
        )
