from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AnalyticsConfig(AppConfig):
    """Managers' analytics: top of the import graph (reads every domain app, none reads it)."""

    name = "analytics"
    verbose_name = gettext_lazy("经营分析")
    default_auto_field = "django.db.models.BigAutoField"
    # Hourly: each tenant's report is queued in the hour its own 1st begins (tenant time zone).
    beat_schedule = {
        "analytics-monthly-reports": {
            "task": "analytics.monthly_reports_all",
            "schedule": crontab(minute=15),
        },
        # Every 4 minutes, inside the panels' 5-minute cache: the default dashboard views of the
        # tenants whose managers use it stay computed (analytics.cache), so no first look waits.
        "analytics-dashboards-warm": {
            "task": "analytics.dashboards_warm_all",
            "schedule": crontab(minute="*/4"),
            "options": {"expires": 240},  # a beat not run before the next one is dropped
        },
    }

    def ready(self) -> None:
        from analytics import aggregates  # noqa: F401  (registers the SQLite percentile aggregate)
        from analytics.workbench import workbench_widget
        from crm.extensions import register_home_widget, replace_dashboard_widgets
        from crm.models import Role
        from crm.permissions import grant_many
        from customers.extensions import dashboard_widget as customers_dashboard_widget
        from customers.extensions import home_widget as customers_home_widget
        from projects.extensions import home_widget as projects_home_widget

        # The workbench's sales and delivery sections show what these two listed (leads waiting,
        # follow-ups due, my projects): one widget each, not the same to-dos twice.
        register_home_widget(workbench_widget, replaces=(customers_home_widget, projects_home_widget))
        # The SLA panel shows the customers widget's lead response figures (median, P90, breaches
        # by sales user and channel) in SQL; that widget read 30 days of leads into Python.
        replace_dashboard_widgets(customers_dashboard_widget)
        grant_many(
            {
                # Sales users see the dashboard scoped to their own figures; managers see everyone's.
                "analytics.view": [Role.SALES, Role.MANAGER],
                "analytics.view_all": [Role.MANAGER],
                "analytics.manage_targets": [Role.MANAGER],
                "analytics.export": [Role.MANAGER, Role.SALES],
            }
        )
