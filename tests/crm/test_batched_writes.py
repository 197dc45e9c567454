"""publish_many / notify_many write, set-based, exactly the rows publish() / notify() write one by one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from crm import events
from crm.events import dispatch
from crm.events.models import DeliveryStatus, Event, EventDelivery
from crm.models import Role
from crm.notifications.models import Channel, Delivery, Notification, NotificationSettings, RobotKind
from crm.notifications.services import NotificationSpec, notify, notify_many
from crm.tenancy import tenant_context

pytestmark = pytest.mark.django_db

EVENT_FIELDS = ["tenant_id", "type", "aggregate_type", "aggregate_id", "payload", "transaction_id"]
DELIVERY_FIELDS = ["tenant_id", "subscriber", "status", "attempts", "last_attempt_at", "delivered_at"]


def _subscriber(*, tenant, customer_id, **_):
    """A handler subscribed for the test (delivered inline after commit)."""
    _subscriber.seen.append(customer_id)


_subscriber.seen = []


@pytest.fixture
def subscribed():
    _subscriber.seen.clear()
    events.subscribe(events.EventType.CUSTOMER_CREATED, _subscriber)
    yield _subscriber.seen
    events.unsubscribe(events.EventType.CUSTOMER_CREATED, _subscriber)


def _event_rows(ids: list[int]) -> list[tuple]:
    return [
        (
            tuple(getattr(event, field) for field in EVENT_FIELDS),
            sorted(
                tuple(getattr(delivery, field) for field in DELIVERY_FIELDS)
                + (delivery.created_at == event.created_at, delivery.next_attempt_at is not None)
                for delivery in event.deliveries.all()
            ),
        )
        for event in Event.objects.filter(pk__in=ids).order_by("pk").prefetch_related("deliveries")
    ]


def test_publish_many_writes_what_publish_writes(tenant_a, subscribed):
    payloads = [{"customer_id": number} for number in (5, 3, 9)]
    with tenant_context(tenant_a):
        created = events.EventType.CUSTOMER_CREATED
        single = [events.publish(created, tenant=tenant_a, **payload).pk for payload in payloads]
        with CaptureQueriesContext(connection) as captured:
            many = events.publish_many(created, tenant=tenant_a, payloads=payloads)
        assert len(captured) <= 3  # the insert (+ savepoint of the test transaction)
        assert many == sorted(many) and len(many) == 3 and min(many) > max(single)  # payload order
        with connection.cursor() as cursor:
            cursor.execute("SELECT txid_current()")
            txid = cursor.fetchone()[0]
        assert _event_rows(many) == _event_rows(single)
        assert {event.transaction_id for event in Event.objects.all()} == {txid}
        assert len(set(Event.objects.values_list("event_id", flat=True))) == 6
        subscriber = events.registry.handler_key(_subscriber)
        assert set(EventDelivery.objects.values_list("subscriber", "status")) == {
            (subscriber, DeliveryStatus.PENDING)
        }


def test_publish_many_refuses_a_bad_payload_and_writes_nothing(tenant_a):
    with tenant_context(tenant_a):
        with pytest.raises(events.EventPayloadError):
            events.publish_many(
                events.EventType.CUSTOMER_CREATED,
                tenant=tenant_a,
                payloads=[{"customer_id": 1}, {"customer_id": "2"}],
            )
        with pytest.raises(events.EventPayloadError):
            events.publish_many(
                events.EventType.CUSTOMER_UPDATED,
                tenant=tenant_a,
                payloads=[{"customer_id": 1, "fields": ["x" * 20_000]}],
            )
        assert events.publish_many(events.EventType.CUSTOMER_CREATED, tenant=tenant_a, payloads=[]) == []
        assert not Event.objects.exists()


def test_publish_many_without_subscribers_writes_events_only(tenant_a):
    with tenant_context(tenant_a):
        ids = events.publish_many(
            events.EventType.RECORD_DELETED,
            tenant=tenant_a,
            payloads=[{"record_id": 4, "collection": "segments"}],
        )
        event = Event.objects.get(pk=ids[0])
        assert (event.aggregate_type, event.aggregate_id) == ("record", 4)
        assert event.payload == {"record_id": 4, "collection": "segments"}
        assert not EventDelivery.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_publish_many_is_delivered_after_commit_once_each(tenant_a, subscribed):
    with tenant_context(tenant_a):
        events.publish_many(
            events.EventType.CUSTOMER_CREATED,
            tenant=tenant_a,
            payloads=[{"customer_id": number} for number in range(4)],
        )
    assert sorted(subscribed) == [0, 1, 2, 3]  # inline after commit, one dispatch per event
    assert dispatch.deliveries_dispatch(tenant=tenant_a) == 0
    with tenant_context(tenant_a):
        assert set(EventDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


NOTIFICATION_FIELDS = ["tenant_id", "recipient_id", "kind", "title", "body", "link", "read_at"]
OUTBOUND_FIELDS = ["tenant_id", "channel", "target", "status", "attempts", "last_error", "sent_at"]


def _notification_rows(key: str) -> list[tuple]:
    notes = Notification.objects.filter(dedupe_key=key).order_by("recipient_id")
    return [
        (
            tuple(getattr(note, field) for field in NOTIFICATION_FIELDS),
            sorted(
                tuple(getattr(delivery, field) for field in OUTBOUND_FIELDS) + (delivery.dedupe_key == key,)
                for delivery in Delivery.objects.filter(notification=note)
            ),
        )
        for note in notes
    ]


def test_notify_many_writes_what_notify_writes(tenant_a, make_staff):
    """Recipients with and without an address, an inactive one, a repeat and the group robot."""
    sales = make_staff(tenant_a, Role.SALES, email="s@example.com")
    quiet = make_staff(tenant_a, Role.SALES, email="")
    gone = make_staff(tenant_a, Role.SALES, email="g@example.com", is_active=False)
    manager = make_staff(tenant_a, Role.MANAGER, email="m@example.com")
    with tenant_context(tenant_a):
        NotificationSettings.objects.create(
            tenant=tenant_a,
            robot_kind=RobotKind.DINGTALK,
            robot_url="https://oapi.dingtalk.com/robot/send?access_token=x",
            robot_enabled=True,
        )
        arguments = {
            "recipients": [sales, quiet, gone, manager, sales],
            "kind": "k",
            "title": "标题" * 150,  # cut to the column
            "body": "内容",
            "link": "/customers/1/",
        }
        assert notify(tenant=tenant_a, dedupe_key="one", **arguments) == 3
        spec = NotificationSpec(dedupe_key="many", **arguments)
        assert notify_many(tenant=tenant_a, notifications=[spec]) == {"many": 3}
        assert notify_many(tenant=tenant_a, notifications=[spec]) == {"many": 0}
        assert _notification_rows("many") == _notification_rows("one")
        assert len(_notification_rows("many")) == 3
        robots = Delivery.objects.filter(channel=Channel.WEBHOOK).order_by("dedupe_key")
        assert [(robot.dedupe_key, robot.target) for robot in robots] == [
            ("many", "dingtalk"),
            ("one", "dingtalk"),
        ]
        assert Delivery.objects.filter(channel=Channel.EMAIL, dedupe_key="many").count() == 2
