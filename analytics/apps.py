from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AnalyticsConfig(AppConfig):
    """Managers' analytics: top of the import graph (reads every domain app, none reads it)."""

    name = "analytics"
    verbose_name = gettext_lazy("经营分析")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from analytics import aggregates  # noqa: F401  (registers the SQLite percentile aggregate)
        from crm.models import Role
        from crm.permissions import grant_many

        grant_many(
            {
                # Sales users see the dashboard scoped to their own figures; managers see everyone's.
                "analytics.view": [Role.SALES, Role.MANAGER],
                "analytics.view_all": [Role.MANAGER],
                "analytics.manage_targets": [Role.MANAGER],
                "analytics.export": [Role.MANAGER, Role.SALES],
            }
        )
