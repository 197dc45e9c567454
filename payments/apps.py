from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class PaymentsConfig(AppConfig):
    """Payment milestones (回款): plans from signed contracts, receipts, overdue reminders."""

    name = "payments"
    verbose_name = gettext_lazy("回款")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "payments-overdue-scan": {"task": "payments.overdue_scan", "schedule": 15 * 60.0},
    }

    def ready(self) -> None:
        from crm import events
        from crm.extensions import register_customer_merge_handler, register_customer_section
        from crm.models import Role
        from crm.permissions import grant_duties, grant_many
        from payments import extensions, handlers, tasks  # noqa: F401 - tasks register with the worker
        from payments.services import RECEIVES_PAYMENT_ALERTS

        grant_many(
            {
                "payments.view": [Role.MANAGER, Role.FINANCE, Role.SALES, Role.PROJECT_MANAGER],
                "payments.record": [Role.MANAGER, Role.FINANCE],
                "payments.configure": [Role.MANAGER],
                "customers.view_all": [Role.FINANCE],
                "referrals.redeem": [Role.FINANCE],
                "referrals.adjust": [Role.FINANCE],
            }
        )
        grant_duties({RECEIVES_PAYMENT_ALERTS: [Role.FINANCE]})
        events.subscribe(events.EventType.PROJECT_CONTRACT_SIGNED, handlers.on_contract_signed)
        events.subscribe(events.EventType.PROJECT_STAGE_CHANGED, handlers.on_stage_changed)
        events.subscribe(events.EventType.CHANGE_ORDER_DECIDED, handlers.on_change_order_decided)
        register_customer_section(extensions.CUSTOMER_SECTION)
        register_customer_merge_handler(extensions.merge_customer_plans)
