from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class WorkdaysConfig(AppConfig):
    """The tenant's working calendar: statutory holidays, 调休 working weekends, company closures."""

    name = "crm.workdays"
    label = "workdays"
    verbose_name = gettext_lazy("工作日历")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_many

        grant_many({"crm.view_calendar": ALL_STAFF, "crm.manage_calendar": [Role.MANAGER]})
