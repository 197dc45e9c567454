"""Intake key rotation: two keys work during the grace period the manager picks, then only the new one."""

from __future__ import annotations

import datetime

from django.utils import timezone
from rest_framework.test import APIClient

from crm.tenancy import tenant_context
from customers.models import CustomerSettings, Lead
from customers.services import settings as settings_services


def _intake(key: str, phone: str):
    client = APIClient()
    return client.post(
        "/api/v1/intake/", {"name": "王女士", "phone": phone}, format="json", HTTP_X_INTAKE_KEY=key
    )


def test_old_key_works_during_grace_then_stops(tenant_a, make_staff):
    from crm.models import Role

    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        old = settings_services.intake_key_rotate(tenant=tenant_a)
        new = settings_services.intake_key_rotate(tenant=tenant_a, grace_hours=24)
    assert _intake(old, "13800000001").status_code == 201
    assert _intake(new, "13800000002").status_code == 201
    with tenant_context(tenant_a):
        CustomerSettings.objects.update(
            previous_intake_key_expires_at=timezone.now() - datetime.timedelta(seconds=1)
        )
    assert _intake(old, "13800000003").status_code == 401
    assert _intake(new, "13800000004").status_code == 201
    with tenant_context(tenant_a):
        assert Lead.objects.count() == 3


def test_rotation_without_grace_and_rotating_again(tenant_a, make_staff):
    from crm.models import Role

    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        first = settings_services.intake_key_rotate(tenant=tenant_a)
        second = settings_services.intake_key_rotate(tenant=tenant_a, grace_hours=24)
        third = settings_services.intake_key_rotate(tenant=tenant_a, grace_hours=24)
    assert _intake(first, "13800000011").status_code == 401  # only one old key at a time
    assert _intake(second, "13800000012").status_code == 201
    assert _intake(third, "13800000013").status_code == 201
    with tenant_context(tenant_a):
        fourth = settings_services.intake_key_rotate(tenant=tenant_a, grace_hours=0)
    assert _intake(third, "13800000014").status_code == 401
    assert _intake(fourth, "13800000015").status_code == 201


def test_rotation_through_the_api(tenant_a, manager_a, make_staff, token_client):
    from crm.models import Role

    make_staff(tenant_a, Role.SALES)
    client = token_client(manager_a)
    old = client.post("/api/v1/leads/intake-key/", {}, format="json").json()["intake_key"]
    issued = client.post("/api/v1/leads/intake-key/", {"grace_hours": 72}, format="json")
    assert issued.status_code == 201
    body = issued.json()
    assert body["intake_key"].startswith("ik_") and body["previous_prefix"] == old.split("_")[1]
    expires = datetime.datetime.fromisoformat(body["previous_expires_at"])
    assert abs(expires - (timezone.now() + datetime.timedelta(hours=72))) < datetime.timedelta(minutes=1)
    assert _intake(old, "13800000021").status_code == 201
    status = client.get("/api/v1/leads/intake-key/status/").json()
    assert status["prefix"] == body["prefix"] and status["previous_prefix"] == body["previous_prefix"]
    bad = client.post("/api/v1/leads/intake-key/", {"grace_hours": 10_000}, format="json")
    assert bad.status_code == 400 and bad.json()["codes"]["grace_hours"] == ["max_value"]
    ended = client.post("/api/v1/leads/intake-key/end-grace/").json()
    assert ended["previous_prefix"] is None
    assert _intake(old, "13800000022").status_code == 401
    assert _intake(body["intake_key"], "13800000023").status_code == 201
    sales = make_staff(tenant_a, Role.SALES)
    assert token_client(manager_a).get("/api/v1/leads/intake-key/status/").status_code == 200
    from django.test import Client

    browser = Client()
    browser.force_login(sales, backend="django.contrib.auth.backends.ModelBackend")
    assert browser.post("/api/v1/leads/intake-key/", {}).status_code == 403


def test_rotation_in_the_browser(tenant_a, manager_a, make_staff, session_client):
    from crm.models import Role

    make_staff(tenant_a, Role.SALES)
    client = session_client(manager_a)
    page = client.post("/customers/settings/", {"rotate_intake_key": "1", "grace_hours": "0"})
    old = page.context["intake_key"]
    page = client.post("/customers/settings/", {"rotate_intake_key": "1", "grace_hours": "168"})
    assert page.status_code == 200
    new = page.context["intake_key"]
    html = client.get("/customers/settings/").content.decode()
    assert 'id="previous-intake-key"' in html
    assert _intake(old, "13800000031").status_code == 201
    assert _intake(new, "13800000032").status_code == 201
    assert (
        client.post("/customers/settings/", {"rotate_intake_key": "1", "grace_hours": "99"}).status_code
        == 400
    )
    client.post("/customers/settings/", {"end_intake_key_grace": "1"})
    assert 'id="previous-intake-key"' not in client.get("/customers/settings/").content.decode()
    assert _intake(old, "13800000033").status_code == 401
