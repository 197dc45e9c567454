"""/api/v1/notifications/ (own only), robot settings (managers), deliveries and SMS (managers)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import Role
from crm.notifications.models import Channel, NotificationSettings
from crm.notifications.services import notify, sms_send
from crm.tenancy import tenant_context
from tests.notifications.factories import DeliveryFactory, NotificationFactory


def _notify(tenant, users, key):
    return notify(tenant=tenant, recipients=users, kind="k", title=f"通知 {key}", dedupe_key=key)


@pytest.fixture
def api_client():
    """An APIClient logged in by session as ``user`` (any role; token_client needs a manager)."""

    def make(user) -> APIClient:
        client = APIClient()
        client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        return client

    return make


def _ids(response) -> list[int]:
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES, email="sales@example.com")


def test_list_shows_only_my_notifications_newest_first(
    tenant_a, sales_a, manager_a, token_client, api_client
):
    for key in ("1", "2", "3"):
        _notify(tenant_a, [sales_a, manager_a], key)
    with tenant_context(tenant_a):
        mine = list(sales_a.notifications.order_by("-created_at", "-id").values_list("id", flat=True))
    client = api_client(sales_a)
    response = client.get("/api/v1/notifications/")
    assert response.status_code == 200
    assert _ids(response) == mine
    assert response.json()["results"][0]["title"] == "通知 3"
    manager_ids = set(_ids(token_client(manager_a).get("/api/v1/notifications/")))
    assert manager_ids.isdisjoint(mine)
    # another user's notification is 404 to me
    assert client.get(f"/api/v1/notifications/{min(manager_ids)}/").status_code == 404
    assert client.post(f"/api/v1/notifications/{min(manager_ids)}/read/").status_code == 404


def test_unread_filter_mark_one_and_all(tenant_a, sales_a, manager_a, token_client, api_client):
    for key in ("1", "2", "3"):
        _notify(tenant_a, [sales_a, manager_a], key)
    client = api_client(sales_a)
    first = _ids(client.get("/api/v1/notifications/?unread=true"))[0]
    response = client.post(f"/api/v1/notifications/{first}/read/")
    assert response.status_code == 200 and response.json()["is_read"] is True
    assert first not in _ids(client.get("/api/v1/notifications/?unread=true"))
    assert first in _ids(client.get("/api/v1/notifications/?unread=false"))
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 2, "unread": 0}
    assert _ids(client.get("/api/v1/notifications/?unread=true")) == []
    # the manager's are untouched
    assert token_client(manager_a).get("/api/v1/notifications/unread-count/").json() == {"unread": 3}


def test_list_query_count_is_constant(
    tenant_a, sales_a, token_client, api_client, django_assert_max_num_queries
):
    for key in range(30):
        _notify(tenant_a, [sales_a], str(key))
    client = api_client(sales_a)
    counts = []
    for size in (5, 25):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            assert len(client.get(f"/api/v1/notifications/?page_size={size}").json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_tenant_b_never_sees_tenant_a_notifications_or_deliveries(
    tenant_a, tenant_b, sales_a, admin_a, admin_b, token_client
):
    _notify(tenant_a, [sales_a, admin_a], "a-1")
    _notify(tenant_b, [admin_b], "b-1")
    with tenant_context(tenant_a):
        a_notification = admin_a.notifications.get()
        a_delivery = DeliveryFactory(tenant=tenant_a, notification=a_notification, channel=Channel.WEBHOOK)
    client_b = token_client(admin_b)
    titles = [n["title"] for n in client_b.get("/api/v1/notifications/").json()["results"]]
    assert titles == ["通知 b-1"]
    assert client_b.get(f"/api/v1/notifications/{a_notification.pk}/").status_code == 404
    assert client_b.post(f"/api/v1/notifications/{a_notification.pk}/read/").status_code == 404
    deliveries_b = client_b.get("/api/v1/notification-deliveries/").json()["results"]
    assert a_delivery.pk not in {d["id"] for d in deliveries_b}
    assert client_b.get(f"/api/v1/notification-deliveries/{a_delivery.pk}/").status_code == 404
    # and tenant A's admin does see it
    deliveries_a = token_client(admin_a).get("/api/v1/notification-deliveries/?channel=webhook").json()
    assert [d["id"] for d in deliveries_a["results"]] == [a_delivery.pk]
    with tenant_context(tenant_a):
        a_notification.refresh_from_db()
        assert a_notification.read_at is None


def test_deliveries_and_sms_are_for_managers_only(tenant_a, sales_a, manager_a, token_client, api_client):
    with tenant_context(tenant_a):
        DeliveryFactory(tenant=tenant_a, notification=NotificationFactory(tenant=tenant_a, recipient=sales_a))
    sms_send(tenant=tenant_a, phone="13812345678", message="验证码 654321", dedupe_key="otp")
    sales = api_client(sales_a)
    assert sales.get("/api/v1/notification-deliveries/").status_code == 403
    assert sales.get("/api/v1/sms-messages/").status_code == 403
    assert sales.get("/api/v1/notification-settings/").status_code == 403
    manager = token_client(manager_a)
    delivery = manager.get("/api/v1/notification-deliveries/").json()["results"][0]
    assert delivery["recipient"] == sales_a.pk and delivery["status"] == "pending"
    sms = manager.get("/api/v1/sms-messages/").json()["results"]
    assert [s["phone"] for s in sms] == ["138****5678"]  # masked (PIPL)
    assert manager.post("/api/v1/notification-deliveries/", {}, format="json").status_code == 405


def test_robot_settings_api(tenant_a, tenant_b, manager_a, admin_b, token_client, settings):
    settings.CRM_ROBOT_ALLOWED_HOSTS = ["qyapi.weixin.qq.com", "oapi.dingtalk.com"]
    client = token_client(manager_a)
    response = client.get("/api/v1/notification-settings/")
    assert response.status_code == 200
    assert response.json()["robot_enabled"] is False and response.json()["has_secret"] is False
    bad = client.put(
        "/api/v1/notification-settings/",
        {"robot_kind": "wecom", "robot_url": "http://169.254.169.254/latest", "robot_enabled": True},
        format="json",
    )
    assert bad.status_code == 400 and "robot_url" in bad.json()["errors"]
    bad = client.put("/api/v1/notification-settings/", {"robot_kind": "qq"}, format="json")
    assert bad.status_code == 400 and "robot_kind" in bad.json()["errors"]
    good = client.put(
        "/api/v1/notification-settings/",
        {
            "robot_kind": "dingtalk",
            "robot_url": "https://oapi.dingtalk.com/robot/send?access_token=abc",
            "robot_enabled": True,
            "robot_secret": "SEC123",
        },
        format="json",
    )
    assert good.status_code == 200, good.json()
    assert good.json()["has_secret"] is True and "robot_secret" not in good.json()
    patched = client.patch("/api/v1/notification-settings/", {"robot_enabled": False}, format="json")
    assert patched.json()["robot_kind"] == "dingtalk" and patched.json()["robot_enabled"] is False
    # tenant B's settings are its own
    other = token_client(admin_b).get("/api/v1/notification-settings/").json()
    assert other["robot_url"] == "" and other["has_secret"] is False
    with tenant_context(tenant_a):
        assert NotificationSettings.objects.get().robot_secret == "SEC123"


def test_delivery_list_query_count_is_constant(tenant_a, manager_a, make_staff, token_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    users = [make_staff(tenant_a, email=f"u{i}@example.com") for i in range(12)]
    _notify(tenant_a, users, "bulk")
    client = token_client(manager_a)
    client.get("/api/v1/notification-deliveries/")  # the token's first use records last_used_at
    counts = []
    for size in (3, 12):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/notification-deliveries/?page_size={size}")
        assert len(response.json()["results"]) == size
        counts.append(len(queries))
    assert counts[0] == counts[1]
