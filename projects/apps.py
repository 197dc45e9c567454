from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = gettext_lazy("项目")
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "projects-scan": {"task": "projects.scan_all_tenants", "schedule": 15 * 60},
    }

    def ready(self) -> None:
        from crm.extensions import (
            register_customer_involvement,
            register_customer_section,
            register_dashboard_widget,
            register_home_widget,
        )
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_duties, grant_many
        from projects import extensions

        pm, designer, manager = Role.PROJECT_MANAGER, Role.DESIGNER, Role.MANAGER
        grant_duties({"projects.design_team": [designer], "projects.construction_team": [pm]})
        grant_many(
            {
                "projects.view": ALL_STAFF,
                "projects.edit": [pm, designer, manager, Role.SALES],
                "projects.move_stage": [pm, designer, manager],
                "projects.move_any_stage": [manager],
                "projects.move_design_stages": [designer, manager],
                "projects.move_construction_stages": [pm, manager],
                "projects.sign": [Role.SALES, designer, manager],
                "projects.cancel": [manager],
                "projects.handover": [pm, manager],
                "projects.acceptance": [pm, Role.SUPERVISOR, manager],
                "projects.design": [designer, manager],
                "projects.daily_log": [pm, Role.SUPERVISOR, manager],
                "projects.inspect": [Role.SUPERVISOR, manager],
                "projects.change_order": [pm, designer, manager],
                "projects.change_order_decide": [pm, manager, Role.SERVICE],
                "projects.material": [pm, designer, manager],
                "projects.share": [pm, designer, manager, Role.SERVICE, Role.SALES],
                "projects.callback": [Role.SERVICE, manager],
                "projects.settings": [manager],
                "projects.sign_override": [manager],
            }
        )
        register_customer_section(extensions.CUSTOMER_SECTION)
        register_customer_involvement(extensions.customers_worked_on)
        extensions.register_signing_requirement(
            "measurement", gettext_lazy("已完成量房"), extensions.measurement_done
        )

        register_dashboard_widget(extensions.dashboard_widget)
        register_home_widget(extensions.home_widget)
        from crm.extensions import register_customer_merge_handler

        register_customer_merge_handler(
            extensions.merge_customer_projects, undo=extensions.unmerge_customer_projects
        )
