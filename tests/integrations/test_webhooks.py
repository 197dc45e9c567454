"""Signed outbound webhooks against a real local HTTP receiver: fail, time out, succeed; signature;
SSRF refusals; auto-disable; a slow receiver does not hold the worker; API and pages."""

from __future__ import annotations

import json
import socket
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from crm import events
from crm.events import dispatch
from crm.events.models import DeliveryStatus, EventDelivery
from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from integrations import outbound, signing
from integrations.models import WebhookEndpoint
from integrations.services import webhook_endpoint_create

pytestmark = pytest.mark.django_db


def _verify(secret: str, headers: dict, body: bytes) -> bool:
    """The verification snippet exactly as documented (API docs and README)."""
    namespace: dict = {}
    exec(signing.VERIFY_SNIPPET, namespace)  # noqa: S102 - our own documented snippet
    return namespace["verify"](secret, headers, body)


def _publish(tenant, customer_id: int = 7):
    with tenant_context(tenant):
        return events.publish(events.EventType.CUSTOMER_CREATED, tenant=tenant, customer_id=customer_id)


def _make_due(tenant) -> None:
    with tenant_context(tenant):
        EventDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())


def _delivery(tenant, endpoint) -> EventDelivery:
    with tenant_context(tenant):
        return EventDelivery.objects.get(subscriber=endpoint.subscriber_key)


def test_receiver_fails_times_out_then_succeeds_and_every_request_is_signed(
    tenant_a, manager_a, token_client, receiver, allow_loopback
):
    client = token_client(manager_a)
    response = client.post(
        "/api/v1/webhooks/",
        {"name": "ERP", "url": receiver.url, "event_types": ["customer.created"]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    endpoint_id = response.json()["id"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{endpoint_id}/").json()
    with tenant_context(tenant_a):
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)

    receiver.script = [500, "timeout", 200]
    event = _publish(tenant_a)

    dispatch.deliveries_dispatch(tenant=tenant_a)
    row = _delivery(tenant_a, endpoint)
    assert (row.status, row.attempts, row.response_code) == (DeliveryStatus.PENDING, 1, 500)
    assert row.next_attempt_at > timezone.now()  # back-off: not due again at once
    dispatch.deliveries_dispatch(tenant=tenant_a)
    assert _delivery(tenant_a, endpoint).attempts == 1  # not due yet: nothing sent

    _make_due(tenant_a)
    started = time.monotonic()
    dispatch.deliveries_dispatch(tenant=tenant_a)
    assert time.monotonic() - started < 1.4  # gave up at the 0.5 s timeout, did not wait 1.5 s
    row = _delivery(tenant_a, endpoint)
    assert (row.status, row.attempts, row.response_code) == (DeliveryStatus.PENDING, 2, None)
    assert "timed out" in row.last_error

    _make_due(tenant_a)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    row = _delivery(tenant_a, endpoint)
    assert (row.status, row.attempts, row.response_code) == (DeliveryStatus.DELIVERED, 3, 200)
    assert row.duration_ms is not None

    assert len(receiver.requests) == 3
    for request in receiver.requests:
        headers, body = request["headers"], request["body"]
        assert headers["X-CRM-Event-Id"] == str(event.event_id)
        assert headers["X-CRM-Signature"] == signing.signature(
            secret=secret, timestamp=headers["X-CRM-Timestamp"], body=body
        )
        assert _verify(secret, headers, body)
        assert not _verify("whsec_wrong", headers, body)
        assert not _verify(secret, headers, body.replace(b'"customer_id":7', b'"customer_id":8'))
        document = json.loads(body)
        assert document == {
            "id": str(event.event_id),
            "type": "customer.created",
            "created_at": event.created_at.isoformat(),
            "tenant": tenant_a.slug,
            "data": {"customer_id": 7},
        }

    log = client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries/").json()
    results = log["results"] if isinstance(log, dict) else log
    assert [(d["status"], d["attempts"], d["response_code"]) for d in results] == [("delivered", 3, 200)]


def test_bounded_attempts_end_in_a_dead_letter_that_resend_revives(
    tenant_a, manager_a, token_client, receiver, allow_loopback
):
    allow_loopback.CRM_OUTBOX_MAX_ATTEMPTS = 2
    receiver.default = 503
    with tenant_context(tenant_a):
        endpoint, _secret = webhook_endpoint_create(
            tenant=tenant_a, url=receiver.url, event_types=["customer.created"]
        )
    _publish(tenant_a)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    _make_due(tenant_a)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    row = _delivery(tenant_a, endpoint)
    assert (row.status, row.attempts) == (DeliveryStatus.DEAD, 2)
    assert len(receiver.requests) == 2

    client = token_client(manager_a)
    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/resend/", {"delivery": row.pk}, format="json")
    assert response.status_code == 202
    assert _delivery(tenant_a, endpoint).status == DeliveryStatus.PENDING
    receiver.default = 200
    dispatch.deliveries_dispatch(tenant=tenant_a)
    assert _delivery(tenant_a, endpoint).status == DeliveryStatus.DELIVERED
    assert len({r["headers"]["X-CRM-Event-Id"] for r in receiver.requests}) == 1  # same id every time

    response = client.post(f"/api/v1/webhooks/{endpoint.pk}/resend/", {"delivery": 999999}, format="json")
    assert response.status_code == 404


def test_sustained_failure_disables_the_endpoint_and_notifies_managers(
    tenant_a, manager_a, receiver, allow_loopback
):
    allow_loopback.CRM_WEBHOOK_DISABLE_AFTER_FAILURES = 3
    allow_loopback.CRM_WEBHOOK_DISABLE_AFTER_SECONDS = 0
    receiver.default = 500
    with tenant_context(tenant_a):
        endpoint, _secret = webhook_endpoint_create(
            tenant=tenant_a, url=receiver.url, event_types=["customer.created"]
        )
    for number in range(2):
        _publish(tenant_a, customer_id=number)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    with tenant_context(tenant_a):
        endpoint.refresh_from_db()
        assert endpoint.is_active and endpoint.consecutive_failures == 2
    _publish(tenant_a, customer_id=3)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    with tenant_context(tenant_a):
        endpoint.refresh_from_db()
        assert not endpoint.is_active and endpoint.disabled_at is not None
        notes = Notification.objects.filter(recipient=manager_a, kind="webhook.disabled")
        assert notes.count() == 1
        _publish(tenant_a, customer_id=4)  # a disabled endpoint subscribes to nothing new
        assert EventDelivery.objects.filter(subscriber=endpoint.subscriber_key).count() == 3
    _make_due(tenant_a)
    dispatch.deliveries_dispatch(tenant=tenant_a)  # what was pending is not sent to a disabled endpoint
    assert len(receiver.requests) == 3
    with tenant_context(tenant_a):
        assert set(
            EventDelivery.objects.filter(subscriber=endpoint.subscriber_key).values_list("status", flat=True)
        ) == {DeliveryStatus.DEAD}


def test_slow_receiver_of_one_tenant_does_not_hold_the_worker(tenant_a, tenant_b, receiver, allow_loopback):
    allow_loopback.CRM_WEBHOOK_BATCH_SIZE = 2
    allow_loopback.CRM_WEBHOOK_TIMEOUT_SECONDS = 0.3
    receiver.default = "timeout"
    receiver.sleep_seconds = 2
    with tenant_context(tenant_a):
        slow, _secret = webhook_endpoint_create(
            tenant=tenant_a, url=receiver.url, event_types=["customer.created"]
        )
    for number in range(6):
        _publish(tenant_a, customer_id=number)
    started = time.monotonic()
    dispatch.deliveries_dispatch(tenant=tenant_a)
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed  # one small batch (2 × 0.3 s), then the worker is free
    with tenant_context(tenant_a):
        attempts = sorted(EventDelivery.objects.values_list("attempts", flat=True))
    assert attempts == [0, 0, 0, 0, 1, 1]  # the rest waits for the re-queued task

    receiver.default = 200  # tenant B's receiver is healthy: its delivery goes out at once
    with tenant_context(tenant_b):
        healthy, _secret = webhook_endpoint_create(
            tenant=tenant_b, url=receiver.url.replace("/hook", "/b"), event_types=["customer.created"]
        )
    _publish(tenant_b)
    dispatch.deliveries_dispatch(tenant=tenant_b)
    assert _delivery(tenant_b, healthy).status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "http://10.1.2.3/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://127.0.0.1:8000/hook",
        "http://user:pw@hooks.example.com/",
        "not a url",
        "http://[::1/hook",
        "http://hooks.example.com:99999/",
        "http://hooks.example.com/a b",
    ],
)
def test_unsafe_urls_are_refused_at_registration(tenant_a, manager_a, token_client, url):
    response = token_client(manager_a).post(
        "/api/v1/webhooks/", {"url": url, "event_types": ["customer.created"]}, format="json"
    )
    assert response.status_code == 400
    assert "url" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert not WebhookEndpoint.objects.exists()


def test_unknown_event_type_is_a_400_and_writes_nothing(tenant_a, manager_a, token_client):
    client = token_client(manager_a)
    response = client.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/x", "event_types": ["customer.exploded"]},
        format="json",
    )
    assert response.status_code == 400 and "event_types" in response.json()["errors"]
    response = client.post(
        "/api/v1/webhooks/", {"url": "https://hooks.example.com/x", "event_types": []}, format="json"
    )
    assert response.status_code == 400 and "event_types" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.0.1",
        "169.254.169.254",
        "169.254.1.1",
        "224.0.0.1",
        "239.1.2.3",
        "240.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_internal_addresses_are_refused(address):
    import ipaddress

    with pytest.raises(outbound.UnsafeTarget):
        outbound.check_address(ipaddress.ip_address(address))


def test_public_addresses_pass():
    import ipaddress

    for address in ("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"):
        outbound.check_address(ipaddress.ip_address(address))


def test_hostname_resolving_to_loopback_is_refused_at_send_time(tenant_a, receiver, settings):
    """Registered by name (not resolvable as internal then); at send time ``localhost`` is 127.0.0.1."""
    settings.CRM_WEBHOOK_ALLOW_LOOPBACK = False
    url = receiver.url.replace("127.0.0.1", "localhost")
    with tenant_context(tenant_a):
        endpoint, _secret = webhook_endpoint_create(
            tenant=tenant_a, url=url, event_types=["customer.created"]
        )
    _publish(tenant_a)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    row = _delivery(tenant_a, endpoint)
    assert row.status == DeliveryStatus.DEAD  # permanent: retrying cannot help
    assert "loopback" in row.last_error
    assert receiver.requests == []


def test_connection_goes_to_the_checked_address_not_a_second_dns_answer(receiver, settings, monkeypatch):
    """DNS rebinding: the first answer is checked and connected to; a later answer is never used."""
    settings.CRM_WEBHOOK_ALLOW_LOOPBACK = True
    real_getaddrinfo = socket.getaddrinfo
    answers = iter(["127.0.0.1", "10.9.9.9", "10.9.9.9"])

    def rebinding_dns(host, port, *args, **kwargs):
        if host == "hooks.rebind.test":
            return real_getaddrinfo(next(answers), port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    port = receiver.url.split(":")[2].split("/")[0]
    result = outbound.post(f"http://hooks.rebind.test:{port}/hook", body=b"{}", headers={})
    assert result.status == 200
    assert receiver.requests[0]["headers"]["Host"] == f"hooks.rebind.test:{port}"
    settings.CRM_WEBHOOK_ALLOW_LOOPBACK = False
    answers = iter(["127.0.0.1"])
    with pytest.raises(outbound.UnsafeTarget):
        outbound.post(f"http://hooks.rebind.test:{port}/hook", body=b"{}", headers={})
    assert len(receiver.requests) == 1


def test_rotate_secret_shows_the_new_secret_once_and_signs_with_it(
    tenant_a, manager_a, token_client, receiver, allow_loopback
):
    client = token_client(manager_a)
    created = client.post(
        "/api/v1/webhooks/", {"url": receiver.url, "event_types": ["customer.created"]}, format="json"
    ).json()
    rotated = client.post(f"/api/v1/webhooks/{created['id']}/rotate-secret/").json()
    assert rotated["secret"] != created["secret"]
    _publish(tenant_a)
    dispatch.deliveries_dispatch(tenant=tenant_a)
    request = receiver.requests[0]
    assert _verify(rotated["secret"], request["headers"], request["body"])
    assert not _verify(created["secret"], request["headers"], request["body"])


def test_api_update_delete_and_roles(tenant_a, manager_a, make_staff, token_client, session_client):
    client = token_client(manager_a)
    created = client.post(
        "/api/v1/webhooks/",
        {"url": "https://hooks.example.com/a", "event_types": ["lead.created"]},
        format="json",
    ).json()
    response = client.patch(
        f"/api/v1/webhooks/{created['id']}/",
        {"event_types": ["lead.created", "ticket.created"]},
        format="json",
    )
    assert response.status_code == 200 and response.json()["event_types"] == [
        "lead.created",
        "ticket.created",
    ]
    response = client.patch(f"/api/v1/webhooks/{created['id']}/", {"url": "http://10.0.0.2/"}, format="json")
    assert response.status_code == 400 and "url" in response.json()["errors"]
    sales = make_staff(tenant_a, Role.SALES)
    assert session_client(sales).get("/api/v1/webhooks/").status_code == 403
    assert client.delete(f"/api/v1/webhooks/{created['id']}/").status_code == 204
    with tenant_context(tenant_a):
        assert not WebhookEndpoint.objects.exists()


def test_manager_pages_create_shows_secret_once_edit_and_log(tenant_a, manager_a, make_staff, session_client):
    client = session_client(manager_a)
    assert client.get("/integrations/webhooks/").status_code == 200
    assert client.get("/integrations/webhooks/new/").status_code == 200
    response = client.post(
        "/integrations/webhooks/new/",
        {
            "name": "官网",
            "url": "https://hooks.example.com/site",
            "event_types": ["lead.created"],
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    with tenant_context(tenant_a):
        endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()
    detail = client.get(f"/integrations/webhooks/{endpoint.pk}/")
    assert detail.status_code == 200 and endpoint.secret not in detail.content.decode()
    response = client.post(
        f"/integrations/webhooks/{endpoint.pk}/",
        {"name": "官网", "url": "http://192.168.0.1/", "event_types": ["lead.created"]},
    )
    assert response.status_code == 400
    response = client.post(
        "/integrations/webhooks/new/", {"url": "https://x.example.com/", "event_types": ["nope"]}
    )
    assert response.status_code == 400
    assert client.get("/integrations/robot/").status_code == 200
    sales = make_staff(tenant_a, Role.SALES)
    assert session_client(sales).get("/integrations/webhooks/").status_code in (302, 403)


def test_deliveries_log_of_another_tenants_endpoint_is_404(tenant_a, tenant_b, admin_b, session_client):
    with tenant_context(tenant_a):
        endpoint, _secret = webhook_endpoint_create(
            tenant=tenant_a, url="https://hooks.example.com/a", event_types=["lead.created"]
        )
    client = session_client(admin_b)
    assert client.get(f"/integrations/webhooks/{endpoint.pk}/").status_code == 404
    assert client.post(f"/integrations/webhooks/{endpoint.pk}/delete/").status_code == 404
    with tenant_context(tenant_a):
        assert WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()


def test_old_pending_deliveries_are_not_sent_before_their_time(tenant_a, receiver, allow_loopback):
    with tenant_context(tenant_a):
        webhook_endpoint_create(tenant=tenant_a, url=receiver.url, event_types=["customer.created"])
    _publish(tenant_a)
    with tenant_context(tenant_a):
        EventDelivery.objects.update(next_attempt_at=timezone.now() + timedelta(minutes=5))
    dispatch.deliveries_dispatch(tenant=tenant_a)
    assert receiver.requests == []
