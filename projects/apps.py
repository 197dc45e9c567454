from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    name = "projects"
    verbose_name = "项目"
    default_auto_field = "django.db.models.BigAutoField"
    beat_schedule = {
        "projects-scan": {"task": "projects.scan_all_tenants", "schedule": 15 * 60},
    }

    def ready(self) -> None:
        from crm import extensions
        from crm.models import Role
        from crm.permissions import ALL_STAFF, grant_many
        from projects import customer_extensions

        pm, designer, manager = Role.PROJECT_MANAGER, Role.DESIGNER, Role.MANAGER
        grant_many(
            {
                "projects.view": ALL_STAFF,
                "projects.edit": [pm, designer, manager, Role.SALES],
                "projects.move_stage": [pm, designer, manager],
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
            }
        )
        extensions.register_customer_timeline(customer_extensions.timeline)
        extensions.register_customer_panel(customer_extensions.panel)
        extensions.register_customer_involvement(customer_extensions.customers_worked_on)
        from projects.dashboard import dashboard_widget, home_widget

        extensions.register_dashboard_widget(dashboard_widget)
        extensions.register_home_widget(home_widget)
