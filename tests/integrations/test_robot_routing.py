"""Routing chosen event types to the tenant's group robot through the outbox (second transport)."""

from __future__ import annotations

import json

import pytest

from crm import events
from crm.events import dispatch
from crm.events.models import DeliveryStatus, EventDelivery
from crm.notifications.models import NotificationSettings, RobotKind
from crm.tenancy import tenant_context

pytestmark = pytest.mark.django_db


def test_routed_event_types_reach_the_robot_and_others_do_not(
    tenant_a, manager_a, token_client, receiver, settings
):
    settings.CRM_ROBOT_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver.answer_json = {"errcode": 0, "errmsg": "ok"}
    with tenant_context(tenant_a):
        NotificationSettings.objects.create(
            tenant=tenant_a, robot_kind=RobotKind.WECOM, robot_url=receiver.url, robot_enabled=True
        )
    client = token_client(manager_a)
    response = client.put("/api/v1/robot-event-routes/", {"event_types": ["ticket.created"]}, format="json")
    assert response.status_code == 200 and response.json()["event_types"] == ["ticket.created"]
    bad = client.put("/api/v1/robot-event-routes/", {"event_types": ["ticket.melted"]}, format="json")
    assert bad.status_code == 400 and "event_types" in bad.json()["errors"]

    with tenant_context(tenant_a):
        events.publish(events.EventType.TICKET_CREATED, tenant=tenant_a, ticket_id=5, customer_id=9)
        events.publish(events.EventType.CUSTOMER_CREATED, tenant=tenant_a, customer_id=9)
        robot_rows = list(
            EventDelivery.objects.filter(subscriber__startswith="robot:").select_related("event")
        )
    assert [row.event.type for row in robot_rows] == ["ticket.created"]
    dispatch.deliveries_dispatch(tenant=tenant_a)
    with tenant_context(tenant_a):
        assert EventDelivery.objects.get(pk=robot_rows[0].pk).status == DeliveryStatus.DELIVERED
    assert len(receiver.requests) == 1
    message = json.loads(receiver.requests[0]["body"])
    assert message["msgtype"] == "markdown" and "ticket.created" in message["markdown"]["content"]


def test_robot_error_code_is_retried(tenant_a, receiver, settings):
    from integrations.services import robot_event_route_update

    settings.CRM_ROBOT_ALLOWED_HOSTS = ["127.0.0.1"]
    receiver.answer_json = {"errcode": 45009, "errmsg": "api freq out of limit"}
    with tenant_context(tenant_a):
        NotificationSettings.objects.create(
            tenant=tenant_a, robot_kind=RobotKind.WECOM, robot_url=receiver.url, robot_enabled=True
        )
        robot_event_route_update(tenant=tenant_a, event_types=["customer.created"])
        events.publish(events.EventType.CUSTOMER_CREATED, tenant=tenant_a, customer_id=9)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    with tenant_context(tenant_a):
        row = EventDelivery.objects.get(subscriber__startswith="robot:")
    assert (row.status, row.attempts) == (DeliveryStatus.PENDING, 1)
    assert "45009" in row.last_error
