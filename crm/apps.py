from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy


class CrmConfig(AppConfig):
    name = "crm"
    verbose_name = gettext_lazy("平台")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "crm-health-check": {"task": "crm.health_check", "schedule": 300.0},
    }

    def ready(self) -> None:
        from crm import checks  # noqa: F401  (registers the deploy checks)
        from crm.models import Role
        from crm.permissions import ALL_STAFF, RECEIVES_ESCALATIONS, grant_duties, grant_many
        from crm.rls import apply_row_level_security
        from crm.uploads import configure_pillow

        grant_duties({RECEIVES_ESCALATIONS: [Role.MANAGER]})
        grant_many(
            {
                "crm.view_staff": ALL_STAFF,
                "crm.manage_tokens": [Role.MANAGER],
                "crm.manage_users": [Role.MANAGER],
                "crm.view_dashboard": [Role.MANAGER],
                # Held by the admin role alone (Django admin, staff edits): a manager is not an admin.
                "crm.administer": [],
            }
        )
        post_migrate.connect(apply_row_level_security, dispatch_uid="crm.rls")
        from crm.sync import install_touch_triggers

        post_migrate.connect(install_touch_triggers, dispatch_uid="crm.sync")
        from crm.token_cache import connect_signals as connect_token_cache_signals

        connect_token_cache_signals()
        from crm.backends import connect_signals as connect_session_user_signals

        connect_session_user_signals()
        from django.db.models.signals import post_delete, post_save

        from crm.models import User
        from crm.selectors import staff_names_forget

        for name, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(staff_names_forget, sender=User, dispatch_uid=f"staff_names.{name}")
        configure_pillow()
