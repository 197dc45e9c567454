from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class SalesConfig(AppConfig):
    name = "sales"
    verbose_name = gettext_lazy("销售日程")
    default_auto_field = "django.db.models.BigAutoField"

    beat_schedule = {
        "sales-appointment-reminders": {
            "task": "sales.appointment_reminders_scan_all",
            "schedule": crontab(minute="*"),
        },
        "sales-task-reminders": {
            "task": "sales.task_reminders_scan_all",
            "schedule": crontab(minute="*"),
        },
    }

    def ready(self) -> None:
        from crm import events, extensions
        from crm.permissions import ALL_STAFF, grant_many
        from projects import extensions as project_extensions
        from sales import extensions as sales_extensions
        from sales import handlers

        grant_many(
            {
                "sales.view": ALL_STAFF,
                "sales.schedule": ALL_STAFF,
            }
        )
        extensions.register_customer_section(sales_extensions.CUSTOMER_SECTION)
        extensions.register_project_panel(sales_extensions.project_schedule_panel)
        extensions.register_home_widget(sales_extensions.overdue_tasks_widget)
        extensions.register_customer_involvement(sales_extensions.customers_scheduled_with)
        project_extensions.register_signing_requirement(
            "measurement", gettext_lazy("已完成量房"), sales_extensions.measure_appointment_done
        )
        extensions.register_customer_merge_handler(sales_extensions.merge_customer_rows)
        events.subscribe(events.EventType.FOLLOW_UP_CREATED, handlers.on_customer_follow_up_plan)
        events.subscribe(events.EventType.CUSTOMER_UPDATED, handlers.on_customer_follow_up_plan)
