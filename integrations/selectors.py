"""Reads of integrations: the tenant's endpoints, who subscribes to an event type, delivery logs."""

from __future__ import annotations

from django.db.models import QuerySet

from crm.events.models import EventDelivery
from crm.models import Tenant
from crm.notifications.models import NotificationSettings
from integrations.models import RobotEventRoute, WebhookEndpoint


def endpoints_for_list(*, tenant: Tenant) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(tenant=tenant).order_by("id")


def endpoints_subscribed(*, tenant: Tenant, event_type: str) -> list[WebhookEndpoint]:
    """Active endpoints of ``tenant`` for ``event_type`` (runs on every publish: one small query;
    the type filter is in Python so SQLite, the embedded default, works too)."""
    active = WebhookEndpoint.objects.filter(tenant=tenant, is_active=True).only("id", "event_types")
    return [endpoint for endpoint in active if event_type in endpoint.event_types]


def robot_for_event(*, tenant: Tenant, event_type: str) -> NotificationSettings | None:
    """The tenant's active group robot if ``event_type`` is routed to it, else None."""

    route = RobotEventRoute.objects.filter(tenant=tenant).only("event_types").first()
    if route is None or event_type not in route.event_types:
        return None
    robot = NotificationSettings.objects.filter(tenant=tenant).first()
    return robot if robot is not None and robot.robot_active else None


def endpoint_deliveries(*, tenant: Tenant, endpoint: WebhookEndpoint) -> QuerySet[EventDelivery]:
    """The endpoint's delivery log, newest first (served by the (tenant, subscriber, -id) index)."""
    return (
        EventDelivery.objects.filter(tenant=tenant, subscriber=endpoint.subscriber_key)
        .select_related("event")
        .order_by("-id")
    )
