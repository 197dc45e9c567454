"""Intake is idempotent: ad platforms retry, and a retry must not become another lead or SLA breach."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from crm.idempotency.models import IdempotencyKey
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUp, Lead
from customers.services import settings as settings_services

pytestmark = pytest.mark.django_db

PAYLOAD = {"name": "官网访客", "phone": "13812345678", "source_channel": "douyin", "note": "三室两厅"}


@pytest.fixture
def intake(tenant_a, make_staff):
    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        key = settings_services.intake_key_rotate(tenant=tenant_a)
    client = APIClient()
    client.credentials(HTTP_X_INTAKE_KEY=key)
    return client


def _leads(tenant):
    with tenant_context(tenant):
        return list(Lead.objects.all())


def test_five_identical_posts_make_one_lead(tenant_a, intake):
    """Before: five identical submissions created five leads on one customer."""
    responses = [intake.post("/api/v1/intake/", PAYLOAD, format="json") for _ in range(5)]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200]
    leads = _leads(tenant_a)
    assert len(leads) == 1
    assert {r.json()["id"] for r in responses} == {leads[0].pk}
    assert responses[1].json() == {"id": leads[0].pk, "customer_id": leads[0].customer_id, "merged": True}
    with tenant_context(tenant_a):
        notes = list(FollowUp.objects.filter(customer_id=leads[0].customer_id))
        assert len(notes) == 4 and all(n.kind == "note" and n.author is None for n in notes)
        assert f"#{leads[0].pk}" in notes[0].content and "三室两厅" in notes[0].content
        lead = Lead.objects.get()
        assert lead.status == "open" and lead.first_responded_at is None  # the note is no response


def test_repeat_after_the_window_is_a_new_lead(tenant_a, intake, settings):
    assert intake.post("/api/v1/intake/", PAYLOAD, format="json").status_code == 201
    with tenant_context(tenant_a):
        Lead.objects.update(received_at=timezone.now() - datetime.timedelta(hours=25))
    assert intake.post("/api/v1/intake/", PAYLOAD, format="json").status_code == 201
    settings.CUSTOMERS_INTAKE_MERGE_HOURS = 48
    assert intake.post("/api/v1/intake/", PAYLOAD, format="json").status_code == 200
    assert len(_leads(tenant_a)) == 2


def test_a_pooled_lead_is_not_merged_into(tenant_a, intake):
    assert intake.post("/api/v1/intake/", PAYLOAD, format="json").status_code == 201
    with tenant_context(tenant_a):
        Lead.objects.update(status="pooled")
    assert intake.post("/api/v1/intake/", PAYLOAD, format="json").status_code == 201


def test_same_idempotency_key_gets_the_same_response(tenant_a, intake):
    first = intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="ad-42")
    again = intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="ad-42")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert len(_leads(tenant_a)) == 1
    with tenant_context(tenant_a):
        assert FollowUp.objects.count() == 0  # a replay, not a merge: nothing new at all
        assert IdempotencyKey.objects.get().response_body == first.json()


def test_same_key_with_another_body_is_422_with_a_code(tenant_a, intake):
    assert (
        intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="k1").status_code == 201
    )
    other = intake.post(
        "/api/v1/intake/", {**PAYLOAD, "phone": "13900001111"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused" and other.json()["errors"]["Idempotency-Key"]
    with tenant_context(tenant_a):
        assert not Customer.objects.filter(phone="+8613900001111").exists()


def test_invalid_key_is_400_and_a_failed_request_frees_its_key(tenant_a, intake):
    bad = intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="x" * 300)
    assert bad.status_code == 400 and bad.json()["code"] == "idempotency_key_invalid"
    invalid = intake.post(
        "/api/v1/intake/", {**PAYLOAD, "phone": "123"}, format="json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    assert invalid.status_code == 400
    fixed = intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert fixed.status_code == 201


def test_keys_are_per_tenant(tenant_a, tenant_b, intake, make_staff):
    make_staff(tenant_b, Role.SALES)
    with tenant_context(tenant_b):
        key_b = settings_services.intake_key_rotate(tenant=tenant_b)
    a = intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    b = APIClient().post(
        "/api/v1/intake/", PAYLOAD, format="json", HTTP_X_INTAKE_KEY=key_b, HTTP_IDEMPOTENCY_KEY="shared"
    )
    assert a.status_code == b.status_code == 201 and a.json()["id"] != b.json()["id"]
    assert len(_leads(tenant_b)) == 1


def test_key_survives_a_cache_flush(tenant_a, intake):
    """Stored in PostgreSQL, not only in the cache: a retry after a restart is still deduplicated."""
    from django.core.cache import cache

    first = intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="restart")
    cache.clear()
    again = intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="restart")
    assert again.status_code == 201 and again.json() == first.json()
    assert len(_leads(tenant_a)) == 1


@pytest.mark.django_db(transaction=True)
@override_settings(CUSTOMERS_INTAKE_MERGE_HOURS=0)  # only the key can deduplicate here
def test_parallel_retries_with_one_key_make_one_lead(tenant_a, intake):
    results: list[int] = []

    def post():
        try:
            client = APIClient()
            client.credentials(HTTP_X_INTAKE_KEY=intake._credentials["HTTP_X_INTAKE_KEY"])
            response = client.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="race")
            results.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * 4
    assert len(_leads(tenant_a)) == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_repeats_of_a_new_phone_make_one_lead(tenant_a, intake):
    results: list[int] = []

    def post():
        try:
            client = APIClient()
            client.credentials(HTTP_X_INTAKE_KEY=intake._credentials["HTTP_X_INTAKE_KEY"])
            results.append(client.post("/api/v1/intake/", PAYLOAD, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 200, 200, 201]
    assert len(_leads(tenant_a)) == 1


def test_expired_keys_are_pruned_and_may_be_reused(tenant_a, intake, settings):
    from crm.idempotency.services import idempotency_keys_prune

    assert (
        intake.post("/api/v1/intake/", PAYLOAD, format="json", HTTP_IDEMPOTENCY_KEY="old").status_code == 201
    )
    with tenant_context(tenant_a):
        IdempotencyKey.objects.update(created_at=timezone.now() - datetime.timedelta(hours=73))
        assert idempotency_keys_prune(tenant=tenant_a) == 1
        assert not IdempotencyKey.objects.exists()
    other = {**PAYLOAD, "phone": "13900002222"}
    assert intake.post("/api/v1/intake/", other, format="json", HTTP_IDEMPOTENCY_KEY="old").status_code == 201
