"""Merge, undo, reassignment and ownership history through the API (issue 14 §2–3)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from customers.models import (
    AuditAction,
    Customer,
    CustomerAuditLog,
    CustomerMerge,
    CustomerOwnership,
    Lead,
    LeadStatus,
    OwnershipReason,
)
from customers.services import leads as lead_service
from customers.services import pool
from customers.services import settings as customer_settings
from tests.customers.factories import CustomerFactory, FollowUpFactory, LeadFactory


@pytest.fixture
def manager_api(manager_a, api_as):
    return api_as(manager_a)


def _two(tenant, **extra):
    with tenant_context(tenant):
        return (
            CustomerFactory(tenant=tenant, name="保留", **extra),
            CustomerFactory(tenant=tenant, name="重复", community="翠湖天地"),
        )


# --------------------------------------------------------------------------- merge


def test_merge_through_the_api_then_undo(tenant_a, manager_api):
    survivor, duplicate = _two(tenant_a)
    with tenant_context(tenant_a):
        follow_up = FollowUpFactory(tenant=tenant_a, customer=duplicate)
    response = manager_api.post(
        f"/api/v1/customers/{survivor.pk}/merge/",
        {"duplicate": duplicate.pk, "fields": {"community": "duplicate", "name": "survivor"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["survivor"] == survivor.pk and body["duplicate"] == duplicate.pk
    assert body["duplicate_values"]["community"] == "翠湖天地"
    with tenant_context(tenant_a):
        follow_up.refresh_from_db()
        assert follow_up.customer_id == survivor.pk
        assert Customer.objects.get(pk=survivor.pk).community == "翠湖天地"
    listed = manager_api.get("/api/v1/customers/").json()["results"]
    assert duplicate.pk not in {row["id"] for row in listed}  # archived, not listed
    assert manager_api.get(f"/api/v1/customer-merges/{body['id']}/").status_code == 200

    undone = manager_api.post(f"/api/v1/customer-merges/{body['id']}/undo/")
    assert undone.status_code == 200, undone.content
    assert undone.json()["undone_at"]
    with tenant_context(tenant_a):
        follow_up.refresh_from_db()
        assert follow_up.customer_id == duplicate.pk
        assert Customer.objects.get(pk=duplicate.pk).merged_into_id is None
    again = manager_api.post(f"/api/v1/customer-merges/{body['id']}/undo/")
    assert again.status_code == 400 and again.json()["codes"] == {"merge": ["already_undone"]}


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("self", {"duplicate": ["merge_self"]}),
        ("already_merged", {"duplicate": ["already_merged"]}),
        ("bad_field", {"fields": ["invalid_choice"]}),
        ("bad_side", None),
    ],
)
def test_merge_errors_are_400_with_codes_and_write_nothing(tenant_a, manager_a, manager_api, case, code):
    from customers.services.merge import customer_merge

    survivor, duplicate = _two(tenant_a)
    payload: dict = {"duplicate": duplicate.pk}
    if case == "self":
        payload["duplicate"] = survivor.pk
    elif case == "already_merged":
        with tenant_context(tenant_a):
            other = CustomerFactory(tenant=tenant_a)
            customer_merge(tenant=tenant_a, survivor=other, duplicate=duplicate, actor=manager_a)
    elif case == "bad_field":
        payload["fields"] = {"created_at": "duplicate"}
    else:
        payload["fields"] = {"name": "both"}
    with tenant_context(tenant_a):
        merges_before = CustomerMerge.objects.count()
        FollowUpFactory(tenant=tenant_a, customer=duplicate)
        rows_before = sorted(Customer.objects.values_list("pk", "phone", "merged_into"))
    response = manager_api.post(f"/api/v1/customers/{survivor.pk}/merge/", payload, format="json")
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["detail"] and body["errors"]
    if code is not None:
        assert body["codes"] == code
    else:
        assert list(body["codes"]) == ["fields"]
    with tenant_context(tenant_a):
        assert CustomerMerge.objects.count() == merges_before
        assert sorted(Customer.objects.values_list("pk", "phone", "merged_into")) == rows_before


def test_merge_across_tenants_is_404_and_writes_nothing(tenant_a, tenant_b, manager_api):
    survivor, _duplicate = _two(tenant_a)
    with tenant_context(tenant_b):
        foreign = CustomerFactory(tenant=tenant_b)
    response = manager_api.post(
        f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": foreign.pk}, format="json"
    )
    assert response.status_code == 404
    response = manager_api.post(
        f"/api/v1/customers/{foreign.pk}/merge/", {"duplicate": survivor.pk}, format="json"
    )
    assert response.status_code == 404
    with tenant_context(tenant_b):
        foreign.refresh_from_db()
        assert not foreign.is_merged
    with tenant_context(tenant_a):
        assert CustomerMerge.objects.count() == 0


def test_sales_may_not_merge_or_reassign(tenant_a, make_staff, api_as):
    rep = make_staff(tenant_a, Role.SALES)
    survivor, duplicate = _two(tenant_a, owner=rep)
    with tenant_context(tenant_a):
        Customer.objects.filter(pk=duplicate.pk).update(owner=rep)
    client = api_as(rep)
    assert (
        client.post(
            f"/api/v1/customers/{survivor.pk}/merge/", {"duplicate": duplicate.pk}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/v1/customers/reassign/", {"customers": [survivor.pk], "to_users": [rep.pk]}, format="json"
        ).status_code
        == 403
    )
    with tenant_context(tenant_a):
        assert CustomerMerge.objects.count() == 0


def test_known_wechat_id_is_refused_naming_the_owner(tenant_a, make_staff, api_as):
    owner = make_staff(tenant_a, Role.SALES, display_name="李销售")
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, wechat_id="wx_known", owner=owner)
    response = api_as(owner).post(
        "/api/v1/customers/", {"name": "新", "phone": "13700001111", "wechat_id": " wx_known "}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["codes"] == {"wechat_id": ["duplicate_wechat"]}
    assert "李销售" in response.json()["errors"]["wechat_id"][0]


# --------------------------------------------------------------------------- reassignment


@pytest.fixture
def departing(tenant_a, make_staff):
    leaving = make_staff(tenant_a, Role.SALES)
    reps = [make_staff(tenant_a, Role.SALES) for _ in range(3)]
    with tenant_context(tenant_a):
        customers = [CustomerFactory(tenant=tenant_a, owner=leaving) for _ in range(7)]
    return leaving, reps, customers


def test_round_robin_reassignment_of_a_departing_reps_customers(tenant_a, manager_a, manager_api, departing):
    leaving, reps, customers = departing
    response = manager_api.post(
        "/api/v1/customers/reassign/",
        {"from_owner": leaving.pk, "to_users": [rep.pk for rep in reps]},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["reassigned"] == 7
    with tenant_context(tenant_a):
        owners = dict(Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("pk", "owner_id"))
        counts = sorted(list(owners.values()).count(rep.pk) for rep in reps)
        assert counts == [2, 2, 3] and leaving.pk not in owners.values()
        # Round robin in customer order: 1st, 4th, 7th to the first rep …
        ordered = sorted(owners)
        assert [owners[pk] for pk in ordered[:3]] == [rep.pk for rep in sorted(reps, key=lambda r: r.pk)]
        # Each new owner is told once; the audit says who moved whom.
        assert Notification.objects.filter(kind="customers_reassigned").count() == 3
        assert CustomerAuditLog.objects.filter(action=AuditAction.REASSIGN).count() == 7
    # The history shows both holders, with the reason and who decided.
    history = manager_api.get(f"/api/v1/customers/{customers[0].pk}/ownership/").json()
    assert [row["owner"] for row in history][:2] == [sorted(reps, key=lambda r: r.pk)[0].pk, leaving.pk]
    assert history[0]["reason"] == OwnershipReason.REASSIGNED and history[0]["changed_by"] == manager_a.pk
    assert history[0]["ended_at"] is None and history[1]["ended_at"] is not None


def test_reassigned_open_lead_gets_a_fresh_window_and_pool_deadline(tenant_a, manager_a, departing):
    from customers.services.reassign import customers_reassign

    leaving, reps, _customers = departing
    with tenant_context(tenant_a):
        settings_row = customer_settings.customer_settings_for(tenant=tenant_a)
        settings_row.business_days = list(range(7))
        settings_row.business_hours_start = datetime.time(0, 0)
        settings_row.business_hours_end = datetime.time(0, 0)  # always open: minutes are wall minutes
        settings_row.save()
        received = timezone.now() - datetime.timedelta(minutes=10)
        customer = CustomerFactory(tenant=tenant_a, owner=leaving)
        lead = LeadFactory(
            tenant=tenant_a,
            customer=customer,
            assignee=leaving,
            received_at=received,
            first_response_due_at=received + datetime.timedelta(minutes=15),
            pool_due_at=received + datetime.timedelta(minutes=120),
        )
        breached = LeadFactory(
            tenant=tenant_a,
            customer=customer,
            assignee=leaving,
            received_at=received - datetime.timedelta(hours=1),
            first_response_due_at=received - datetime.timedelta(minutes=45),
            pool_due_at=received + datetime.timedelta(minutes=5),
            sla_breached=True,
        )
        now = timezone.now()
        customers_reassign(
            tenant=tenant_a, actor=manager_a, customer_ids=[customer.pk], to_users=[reps[0]], now=now
        )
        lead.refresh_from_db()
        breached.refresh_from_db()
        assert lead.assignee_id == reps[0].pk and breached.assignee_id == reps[0].pk
        # Fresh 15 business minutes from the reassignment (more than the 5 that were left).
        assert lead.first_response_due_at == now + datetime.timedelta(minutes=15)
        assert lead.pool_due_at == now + datetime.timedelta(minutes=settings_row.pool_after_minutes)
        # The breach stays the previous owner's; the pool deadline follows the new owner.
        assert breached.sla_breached and breached.first_response_due_at == received - datetime.timedelta(
            minutes=45
        )
        assert breached.pool_due_at == now + datetime.timedelta(minutes=settings_row.pool_after_minutes)
        # The SLA scan just after the reassignment does not breach the fresh lead …
        assert lead_service.lead_sla_scan(tenant=tenant_a, now=now + datetime.timedelta(minutes=14)) == 0
        # … the pool scan leaves the customer with its new owner until the new deadline …
        pool.lead_pool_scan(tenant=tenant_a, now=now + datetime.timedelta(minutes=30))
        customer.refresh_from_db()
        assert customer.owner_id == reps[0].pk and not customer.in_pool
        # … and the new owner's silence past it does pool it.
        pool.lead_pool_scan(
            tenant=tenant_a, now=now + datetime.timedelta(minutes=settings_row.pool_after_minutes + 1)
        )
        customer.refresh_from_db()
        assert customer.in_pool and Lead.objects.get(pk=lead.pk).status == LeadStatus.POOLED


def test_reassignment_restarts_the_idle_pool_period(tenant_a, manager_a, departing):
    from customers.services.reassign import customers_reassign

    leaving, reps, customers = departing
    with tenant_context(tenant_a):
        long_ago = timezone.now() - datetime.timedelta(days=40)
        Customer.objects.filter(pk=customers[0].pk).update(created_at=long_ago, last_touch_at=long_ago)
        customers_reassign(
            tenant=tenant_a, actor=manager_a, customer_ids=[customers[0].pk], to_users=[reps[0]]
        )
        pool.lead_pool_scan(tenant=tenant_a)
        customers[0].refresh_from_db()
        assert customers[0].owner_id == reps[0].pk and not customers[0].in_pool


def test_reassign_bad_input_is_400_and_writes_nothing(tenant_a, tenant_b, manager_api, departing, make_staff):
    leaving, reps, customers = departing
    foreign_rep = make_staff(tenant_b, Role.SALES)
    designer = make_staff(tenant_a, Role.DESIGNER)
    cases = [
        ({"customers": [customers[0].pk], "to_users": []}, "to_users"),
        ({"customers": [customers[0].pk], "to_users": [foreign_rep.pk]}, "to_users"),
        ({"customers": [customers[0].pk], "to_users": [designer.pk]}, "to_users"),
        ({"customers": [customers[0].pk, 999_999_999], "to_users": [reps[0].pk]}, "customers"),
        ({"to_users": [reps[0].pk]}, "customers"),
    ]
    for payload, field in cases:
        response = manager_api.post("/api/v1/customers/reassign/", payload, format="json")
        assert response.status_code == 400, (payload, response.content)
        assert field in response.json()["codes"], (payload, response.json())
    with tenant_context(tenant_a):
        assert set(
            Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("owner_id", flat=True)
        ) == {leaving.pk}
        assert not CustomerOwnership.objects.filter(reason=OwnershipReason.REASSIGNED).exists()
