from celery.schedules import crontab
from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = gettext_lazy("客户")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "customers-minutely-scan": {"task": "customers.scan_all_tenants", "schedule": 60.0},
        "customers-nightly-recompute": {
            "task": "customers.recompute_all_tenants",
            "schedule": crontab(hour=3, minute=15),
        },
    }

    def ready(self) -> None:
        from crm.extensions import (
            register_customer_section,
            register_dashboard_widget,
            register_home_widget,
            register_row_narrower,
        )
        from crm.models import Role
        from crm.permissions import ALL_STAFF, SELLS, grant_duties, grant_many
        from customers import selectors

        grant_duties({SELLS: [Role.SALES]})
        from crm.notifications.badge import badge_cache_key
        from crm.page_cache import register_prefetch
        from crm.selectors import staff_names_key

        # The list page's cached facts (and every page's badge) come with the session's user.
        register_prefetch(
            lambda user_id, tenant_id: [
                staff_names_key(tenant_id),
                selectors.segment_menu_key(tenant_id),
                badge_cache_key(user_id),
            ]
        )
        from django.db.models.signals import post_delete, post_save

        from customers.models import Segment

        for name, signal in (("save", post_save), ("delete", post_delete)):
            signal.connect(selectors.segment_menu_forget, sender=Segment, dispatch_uid=f"segment_menu.{name}")
        grant_many(
            {
                "customers.view": ALL_STAFF,
                "customers.view_all": [Role.MANAGER],
                "customers.view_pool": [Role.SALES, Role.MANAGER],
                "customers.edit": [Role.SALES, Role.SERVICE, Role.MANAGER],
                "customers.view_full_phone": [Role.SALES, Role.SERVICE, Role.MANAGER],
                "customers.reveal_phone": ALL_STAFF,
                "customers.follow_up": [Role.SALES, Role.DESIGNER, Role.SERVICE, Role.MANAGER],
                "customers.claim": [Role.SALES, Role.MANAGER],
                "customers.manage_segments": [Role.MANAGER],
                "customers.view_stats": [Role.MANAGER],
                "customers.import": [Role.MANAGER],
                "customers.export": [Role.MANAGER],
                "customers.privacy": [Role.MANAGER],
                "customers.settings": [Role.MANAGER],
                "customers.merge": [Role.MANAGER],
                "customers.reassign": [Role.MANAGER],
            }
        )
        from customers import detail

        register_customer_section(detail.SECTION)
        from customers.visibility import narrow_api_rows

        register_row_narrower(narrow_api_rows)
        from customers import extensions

        register_dashboard_widget(extensions.dashboard_widget)
        register_home_widget(extensions.home_widget)
        from crm.extensions import register_customer_merge_handler
        from customers.services import merge

        register_customer_merge_handler(merge.merge_customer_rows)
