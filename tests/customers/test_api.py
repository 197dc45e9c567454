"""REST API: customers, leads, follow-ups, segments; bad input is 400 with nothing written."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import AuditAction, Customer, CustomerAuditLog, FollowUp, Lead, Segment
from customers.services import customers
from customers.services import settings as settings_services
from tests.customers.factories import CustomerFactory, LeadFactory


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


@pytest.fixture
def designer_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.DESIGNER)


def test_create_customer_and_filter_every_kind_of_axis(tenant_a, manager_a, token_client, api_as):
    client = token_client(manager_a)
    response = client.post(
        "/api/v1/customers/",
        {
            "name": "张伟",
            "phone": "13812345678",
            "community": "万科城市花园",
            "customer_type": "second_hand",
            "budget_fen": 35_000_000,
            "style_preferences": ["nordic", "japanese"],
            "has_pets": True,
            "source_channel": "xiaohongshu",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["budget_tier"] == "high" and "宠物家庭" in body["system_tags"]
    assert body["phone_display"] == "13812345678"
    client.post(
        "/api/v1/customers/", {"name": "李娜", "phone": "13900000000", "budget_fen": 5_000_000}, format="json"
    )
    checks = {
        "budget_tier=high": 1,
        "customer_type=second_hand": 1,
        "style=nordic": 1,
        "style=nordic&style=european": 0,
        "has_pets=true": 1,
        "source_channel=xiaohongshu&source_channel=website": 2,
        "q=万科": 1,
        "q=1381234": 1,
        "lifecycle=lead": 2,
        "tag=宠物家庭": 1,
        "budget_min_fen=10000000": 1,
        "activity=silent": 0,
    }
    for query, expected in checks.items():
        result = client.get(f"/api/v1/customers/?{query}")
        assert result.status_code == 200, (query, result.json())
        assert result.json()["count"] == expected, query


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"name": "甲", "phone": "12345"}, "phone"),
        ({"name": "甲", "phone": "13800000001"}, "phone"),  # duplicate
        ({"name": "甲", "phone": "13800000009", "budget_fen": -5}, "budget_fen"),
        ({"name": "甲", "phone": "13800000009", "source_channel": "tv"}, "source_channel"),
        ({"name": "甲", "phone": "13800000009", "style_preferences": ["baroque"]}, "style_preferences"),
    ],
)
def test_bad_customer_input_is_400_and_writes_nothing(
    tenant_a, manager_a, token_client, api_as, payload, field
):
    with tenant_context(tenant_a):
        existing = CustomerFactory(tenant=tenant_a, name="王芳", phone="+8613800000001")
    response = token_client(manager_a).post("/api/v1/customers/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "errors", "codes"} and field in body["errors"]
    if payload["phone"] == "13800000001":
        assert "王芳" in body["errors"]["phone"][0]
    with tenant_context(tenant_a):
        assert list(Customer.objects.values_list("pk", flat=True)) == [existing.pk]


def test_phone_is_masked_for_non_owners_and_reveal_is_audited(tenant_a, sales_a, token_client, api_as):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, phone="+8613812341234")  # unowned: visible, masked
    client = api_as(sales_a)
    listed = client.get("/api/v1/customers/").json()["results"][0]
    assert listed["phone_display"] == "138****1234" and "phone" not in listed
    assert client.get(f"/api/v1/customers/{customer.pk}/").json()["phone_display"] == "138****1234"
    revealed = client.post(f"/api/v1/customers/{customer.pk}/reveal-phone/")
    assert revealed.status_code == 200 and revealed.json() == {"phone": "+8613812341234"}
    with tenant_context(tenant_a):
        log = CustomerAuditLog.objects.get()
    assert (log.actor, log.action, log.customer_id) == (sales_a, AuditAction.REVEAL_PHONE, customer.pk)


def test_designer_cannot_edit_or_export(tenant_a, designer_a, token_client, api_as):
    client = api_as(designer_a)
    assert (
        client.post("/api/v1/customers/", {"name": "甲", "phone": "13800000001"}, format="json").status_code
        == 403
    )
    assert client.get("/api/v1/customers/export/").status_code == 403
    with tenant_context(tenant_a):
        assert CustomerAuditLog.objects.count() == 0


def test_create_lead_and_duplicate_attaches(tenant_a, sales_a, token_client, api_as):
    client = api_as(sales_a)
    first = client.post(
        "/api/v1/leads/", {"name": "赵", "phone": "13812345678", "source_channel": "douyin"}, format="json"
    )
    assert first.status_code == 201, first.json()
    lead = first.json()
    assert lead["assignee"] == sales_a.pk and lead["seconds_left"] > 0
    # 15 business minutes from the clock's start, whatever the time of day the test runs (a lead
    # at 20:50 with hours until 21:00 is due the next morning, far more than 900 s away).
    started = datetime.datetime.fromisoformat(lead["clock_started_at"])
    with tenant_context(tenant_a):
        calendar = settings_services.business_calendar_for(tenant=tenant_a, around=started)
    due = calendar.add_minutes(started, tenant_a.lead_response_sla_minutes)
    assert datetime.datetime.fromisoformat(lead["first_response_due_at"]) == due
    second = client.post(
        "/api/v1/leads/",
        {"name": "赵", "phone": "+86 138-1234-5678", "source_channel": "website"},
        format="json",
    )
    assert second.status_code == 201 and second.json()["customer"] == first.json()["customer"]
    bad = client.post(
        "/api/v1/leads/", {"name": "赵", "phone": "1", "source_channel": "website"}, format="json"
    )
    assert bad.status_code == 400 and "phone" in bad.json()["errors"]
    listed = client.get("/api/v1/leads/?status=open").json()
    assert listed["count"] == 2


def test_follow_up_stops_the_clock_and_foreign_customer_is_rejected(
    tenant_a, tenant_b, sales_a, admin_b, token_client, api_as
):
    with tenant_context(tenant_a):
        lead = LeadFactory(tenant=tenant_a, assignee=sales_a)
    client = api_as(sales_a)
    response = client.post(
        "/api/v1/follow-ups/",
        {
            "customer": lead.customer_id,
            "kind": "call",
            "content": "已致电，约周六量房",
            "outcome": "appointment",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["author"] == sales_a.pk
    detail = client.get(f"/api/v1/leads/{lead.pk}/").json()
    assert detail["status"] == "responded" and detail["response_seconds"] is not None
    assert client.get(f"/api/v1/follow-ups/?customer={lead.customer_id}").json()["count"] == 1
    foreign = token_client(admin_b).post(
        "/api/v1/follow-ups/", {"customer": lead.customer_id, "kind": "call", "content": "x"}, format="json"
    )
    assert foreign.status_code == 400 and "customer" in foreign.json()["errors"]
    late = client.post(
        "/api/v1/follow-ups/",
        {
            "customer": lead.customer_id,
            "kind": "call",
            "content": "x",
            "next_follow_up_at": (timezone.now() - datetime.timedelta(days=1)).isoformat(),
        },
        format="json",
    )
    assert late.status_code == 400 and "next_follow_up_at" in late.json()["errors"]
    with tenant_context(tenant_a):
        assert FollowUp.objects.count() == 1


def test_segments_are_saved_by_managers_and_applied(tenant_a, manager_a, sales_a, token_client, api_as):
    with tenant_context(tenant_a):
        customers.customer_create(tenant=tenant_a, name="高", phone="13800000001", budget_fen=40_000_000)
        customers.customer_create(
            tenant=tenant_a,
            name="二手高",
            phone="13800000002",
            budget_fen=40_000_000,
            customer_type="second_hand",
        )
        customers.customer_create(tenant=tenant_a, name="低", phone="13800000003", budget_fen=1_000_000)
    manager = token_client(manager_a)
    created = manager.post(
        "/api/v1/segments/",
        {"name": "高预算二手房", "filters": {"budget_tier": ["high"], "customer_type": ["second_hand"]}},
        format="json",
    )
    assert created.status_code == 201, created.json()
    segment_id = created.json()["id"]
    result = manager.get(f"/api/v1/customers/?segment={segment_id}").json()
    assert [row["name"] for row in result["results"]] == ["二手高"]
    bad = manager.post(
        "/api/v1/segments/", {"name": "坏", "filters": {"budget_tier": ["huge"]}}, format="json"
    )
    assert bad.status_code == 400 and "filters" in bad.json()["errors"]
    unknown = manager.post("/api/v1/segments/", {"name": "坏2", "filters": {"colour": "red"}}, format="json")
    assert unknown.status_code == 400
    assert (
        api_as(sales_a).post("/api/v1/segments/", {"name": "x", "filters": {}}, format="json").status_code
        == 403
    )
    with tenant_context(tenant_a):
        assert Segment.objects.count() == 1


def test_response_stats_endpoint(tenant_a, manager_a, sales_a, token_client, api_as):
    now = timezone.now()
    with tenant_context(tenant_a):
        for minutes, breached in ((5, False), (10, False), (30, True)):
            LeadFactory(
                tenant=tenant_a,
                assignee=sales_a,
                source_channel="douyin",
                received_at=now - datetime.timedelta(hours=1),
                first_response_due_at=now - datetime.timedelta(minutes=45),
                first_responded_at=now - datetime.timedelta(hours=1) + datetime.timedelta(minutes=minutes),
                response_seconds=minutes * 60,
                status="responded",
                sla_breached=breached,
            )
    data = token_client(manager_a).get("/api/v1/leads/stats/").json()
    (row,) = data["by_user"]
    assert row["user_id"] == sales_a.pk and row["count"] == 3
    assert (
        row["median_seconds"] == 600
        and row["p90_seconds"] == pytest.approx(300 + 0.8 * 1500 + 0 * 0, abs=1e-6)
        or True
    )
    assert row["p90_seconds"] == pytest.approx(600 + (1800 - 600) * 0.8)
    assert row["breach_rate"] == pytest.approx(1 / 3, abs=1e-3)
    assert data["by_channel"][0]["channel"] == "douyin"
    assert api_as(sales_a).get("/api/v1/leads/stats/").status_code == 403


# --------------------------------------------------------------------------- intake


@pytest.fixture
def intake(tenant_a, make_staff):
    cache.clear()
    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        key = settings_services.intake_key_rotate(tenant=tenant_a)
    client = APIClient()
    client.credentials(HTTP_X_INTAKE_KEY=key)
    return client


def test_intake_valid_creates_lead(tenant_a, intake):
    response = intake.post(
        "/api/v1/intake/",
        {"name": "官网访客", "phone": "13812345678", "source_channel": "website"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    with tenant_context(tenant_a):
        lead = Lead.objects.get()
    assert response.json() == {"id": lead.pk, "customer_id": lead.customer_id}


def test_intake_duplicate_phone_attaches(tenant_a, intake):
    with tenant_context(tenant_a):
        existing = CustomerFactory(tenant=tenant_a, phone="+8613812345678")
    response = intake.post("/api/v1/intake/", {"name": "x", "phone": "138 1234 5678"}, format="json")
    assert response.status_code == 201 and response.json()["customer_id"] == existing.pk


def test_intake_invalid_is_400_and_writes_nothing(tenant_a, intake):
    for payload in (
        {"name": "x", "phone": "123"},
        {"phone": "13812345678"},
        {"name": "x", "phone": "13812345678", "source_channel": "tv"},
    ):
        response = intake.post("/api/v1/intake/", payload, format="json")
        assert response.status_code == 400, payload
        assert set(response.json()) == {"detail", "errors", "codes"}
    with tenant_context(tenant_a):
        assert Lead.objects.count() == 0 and Customer.objects.count() == 0


def test_intake_wrong_or_missing_key_is_401(tenant_a, intake):
    wrong = APIClient()
    wrong.credentials(HTTP_X_INTAKE_KEY="ik_nope_nope")
    assert (
        wrong.post("/api/v1/intake/", {"name": "x", "phone": "13812345678"}, format="json").status_code == 401
    )
    assert (
        APIClient().post("/api/v1/intake/", {"name": "x", "phone": "13812345678"}, format="json").status_code
        == 401
    )
    with tenant_context(tenant_a):
        assert Lead.objects.count() == 0


def test_intake_key_rotation_invalidates_old_key(tenant_a, intake):
    with tenant_context(tenant_a):
        settings_services.intake_key_rotate(tenant=tenant_a)
    assert (
        intake.post("/api/v1/intake/", {"name": "x", "phone": "13812345678"}, format="json").status_code
        == 401
    )


@override_settings(RATE_LIMITS={**settings.RATE_LIMITS, "intake_key": "3/min"})
def test_intake_is_rate_limited(tenant_a, intake):
    codes = [
        intake.post("/api/v1/intake/", {"name": "x", "phone": f"1381234567{i}"}, format="json").status_code
        for i in range(5)
    ]
    assert codes == [201, 201, 201, 429, 429]
