from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class IntegrationsConfig(AppConfig):
    name = "integrations"
    label = "integrations"
    verbose_name = gettext_lazy("集成")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from crm.events.registry import register_transport
        from crm.models import Role
        from crm.permissions import grant_many
        from integrations.transports import RobotTransport, WebhookTransport

        grant_many({"webhooks.view": [Role.MANAGER], "webhooks.manage": [Role.MANAGER]})
        register_transport(WebhookTransport())
        register_transport(RobotTransport())
