"""Left open at the last review: pooling a signed customer, back-dated follow-ups, segment name race."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, FollowUp, LeadStatus, Segment
from customers.services import customers, follow_ups, pool, segments
from tests.customers.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _overdue_lead(tenant, assignee, **extra):
    received = timezone.now() - datetime.timedelta(hours=5)
    return LeadFactory(
        tenant=tenant,
        assignee=assignee,
        received_at=received,
        clock_started_at=received,
        first_response_due_at=received + datetime.timedelta(minutes=15),
        pool_due_at=received + datetime.timedelta(hours=2),
        **extra,
    )


# --- pooling ---------------------------------------------------------------------------------------


def test_unanswered_lead_of_a_signed_customer_does_not_pool_it(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        signed = _overdue_lead(tenant_a, sales)
        early = _overdue_lead(tenant_a, sales)
        Customer.objects.filter(pk__in=[signed.customer_id, early.customer_id]).update(owner=sales)
        customers.customer_apply_project_facts(
            tenant=tenant_a, customer=signed.customer, signed_projects=1, contract_total_fen=180_000
        )
        assert pool.lead_pool_scan(tenant=tenant_a) == 1
        signed_customer = Customer.objects.get(pk=signed.customer_id)
        assert not signed_customer.in_pool and signed_customer.owner == sales
        signed.refresh_from_db()
        assert signed.status == LeadStatus.OPEN and signed.assignee == sales
        assert Customer.objects.get(pk=early.customer_id).in_pool


def test_customer_with_a_project_past_signing_is_never_pooled(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        lead = _overdue_lead(tenant_a, sales)
        Customer.objects.filter(pk=lead.customer_id).update(owner=sales)
        customers.customer_apply_project_facts(
            tenant=tenant_a,
            customer=lead.customer,
            signed_projects=1,
            contract_total_fen=1,
            lifecycle="aftercare",
        )
        assert pool.lead_pool_scan(tenant=tenant_a) == 0
        assert Customer.objects.get(pk=lead.customer_id).owner == sales


# --- back-dated follow-ups --------------------------------------------------------------------------


def test_first_response_is_the_recording_time_not_the_typed_contact_time(tenant_a, make_staff):
    """A rep who answers 40 minutes late cannot type in "4 minutes after the inquiry"."""
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        received = timezone.now() - datetime.timedelta(minutes=40)
        lead = LeadFactory(
            tenant=tenant_a,
            assignee=sales,
            received_at=received,
            clock_started_at=received,
            first_response_due_at=received + datetime.timedelta(minutes=15),
        )
        follow_ups.follow_up_create(
            tenant=tenant_a,
            customer=lead.customer,
            author=sales,
            kind="call",
            content="已回电",
            occurred_at=received + datetime.timedelta(minutes=4),
        )
        lead.refresh_from_db()
    assert lead.status == LeadStatus.RESPONDED
    assert lead.response_seconds >= 40 * 60 and lead.sla_breached
    assert lead.first_responded_at >= received + datetime.timedelta(minutes=40)


def test_follow_up_back_dated_beyond_the_window_is_refused(tenant_a, make_staff):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        lead = LeadFactory(tenant=tenant_a, assignee=sales)
        with pytest.raises(ValidationError) as error:
            follow_ups.follow_up_create(
                tenant=tenant_a,
                customer=lead.customer,
                author=sales,
                kind="visit",
                content="上个月上门",
                occurred_at=timezone.now() - datetime.timedelta(days=8),
            )
        assert error.value.error_dict["occurred_at"][0].code == "follow_up_backdated"
        assert not FollowUp.objects.exists()
        within = follow_ups.follow_up_create(
            tenant=tenant_a,
            customer=lead.customer,
            author=sales,
            kind="visit",
            content="前天上门",
            occurred_at=timezone.now() - datetime.timedelta(days=2),
        )
    assert within.pk


def test_back_dated_follow_up_via_api_is_400(tenant_a, make_staff, api_as):
    sales = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        lead = LeadFactory(tenant=tenant_a, assignee=sales)
        lead.customer.owner = sales
        lead.customer.save(update_fields=["owner"])
    response = api_as(sales).post(
        "/api/v1/follow-ups/",
        {
            "customer": lead.customer_id,
            "kind": "call",
            "content": "补记",
            "occurred_at": (timezone.now() - datetime.timedelta(days=30)).isoformat(),
        },
        format="json",
    )
    assert response.status_code == 400, response.content
    assert "occurred_at" in response.json()["errors"]


# --- segments ---------------------------------------------------------------------------------------


def _rival_commits_first(tenant, name: str):
    """An execute wrapper: just before our INSERT, another connection commits the same name."""
    inserted: list[bool] = []

    def rival() -> None:
        try:
            with tenant_context(tenant):
                Segment.objects.create(tenant=tenant, name=name, filters={})
        finally:
            connection.close()

    def wrapper(execute, sql, params, many, context):
        if not inserted and sql.startswith('INSERT INTO "customers_segment"'):
            inserted.append(True)
            thread = threading.Thread(target=rival)
            thread.start()
            thread.join(timeout=30)
        return execute(sql, params, many, context)

    wrapper.inserted = inserted
    return wrapper


@pytest.mark.django_db(transaction=True)
def test_same_name_segment_saved_concurrently_is_a_field_error(tenant_a, manager_a):
    """The race: another request commits the same name after our duplicate check passed."""
    race = _rival_commits_first(tenant_a, "高预算")
    with (
        tenant_context(tenant_a),
        connection.execute_wrapper(race),
        pytest.raises(ValidationError) as error,
    ):
        segments.segment_save(
            tenant=tenant_a, created_by=manager_a, name="高预算", filters={"budget_tier": ["high"]}
        )
    assert race.inserted and error.value.error_dict["name"][0].code == "segment_name_taken"
    with tenant_context(tenant_a):
        assert Segment.objects.filter(name="高预算").count() == 1


@pytest.mark.django_db(transaction=True)
def test_same_name_segment_race_through_the_api_is_400(tenant_a, manager_a, token_client):
    client = token_client(manager_a)
    race = _rival_commits_first(tenant_a, "高预算")
    with connection.execute_wrapper(race):
        response = client.post(
            "/api/v1/segments/", {"name": "高预算", "filters": {"budget_tier": ["high"]}}, format="json"
        )
    assert race.inserted
    assert response.status_code == 400, response.content
    assert "name" in response.json()["errors"]
