"""The DingTalk signing secret can be cleared explicitly, and is never cleared by a blank field."""

from __future__ import annotations

import pytest
from django.urls import reverse

from crm.models import Role
from crm.notifications import services
from crm.notifications.models import NotificationSettings
from crm.tenancy import tenant_context

pytestmark = pytest.mark.django_db

DINGTALK = "https://oapi.dingtalk.com/robot/send?access_token=abc"


@pytest.fixture
def robot_with_secret(tenant_a, settings):
    settings.CRM_ROBOT_ALLOWED_HOSTS = ["oapi.dingtalk.com"]
    services.notification_settings_update(
        tenant=tenant_a, robot_kind="dingtalk", robot_url=DINGTALK, robot_enabled=True, robot_secret="SEC1"
    )


def _secret(tenant) -> str:
    with tenant_context(tenant):
        return NotificationSettings.objects.get().robot_secret


def test_api_explicit_null_clears_the_secret_and_blank_keeps_it(
    tenant_a, manager_a, token_client, robot_with_secret
):
    client = token_client(manager_a)
    kept = client.patch("/api/v1/notification-settings/", {"robot_secret": ""}, format="json")
    assert kept.status_code == 200 and kept.json()["has_secret"] is True
    kept = client.put(
        "/api/v1/notification-settings/",
        {"robot_kind": "dingtalk", "robot_url": DINGTALK, "robot_enabled": True},
        format="json",
    )
    assert kept.status_code == 200 and _secret(tenant_a) == "SEC1"
    cleared = client.patch("/api/v1/notification-settings/", {"robot_secret": None}, format="json")
    assert cleared.status_code == 200, cleared.content
    assert cleared.json()["has_secret"] is False and _secret(tenant_a) == ""


def test_settings_page_clears_the_secret_only_when_asked(
    tenant_a, make_staff, session_client, robot_with_secret
):
    client = session_client(make_staff(tenant_a, Role.MANAGER))
    form = {"robot_kind": "dingtalk", "robot_url": DINGTALK, "robot_enabled": "on", "robot_secret": ""}
    page = client.get(reverse("notifications:settings")).content.decode()
    assert 'name="clear_robot_secret"' in page
    assert client.post(reverse("notifications:settings"), form).status_code == 302
    assert _secret(tenant_a) == "SEC1"  # blank field: kept
    both = client.post(
        reverse("notifications:settings"), {**form, "robot_secret": "NEW", "clear_robot_secret": "on"}
    )
    assert both.status_code == 400 and _secret(tenant_a) == "SEC1"
    assert (
        client.post(reverse("notifications:settings"), {**form, "clear_robot_secret": "on"}).status_code
        == 302
    )
    assert _secret(tenant_a) == ""
