"""Breach scan, pool return and follow-up reminders: exactly once, even when scans race."""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Role
from crm.notifications.models import Notification
from crm.tenancy import tenant_context
from customers.models import Customer, LeadSlaBreach, LeadStatus, PoolClaim
from customers.services import customers, follow_ups, pool, settings
from customers.services import leads as leads_services
from customers.tasks import scan_all_tenants, scan_tenant
from tests.celery_utils import real_worker
from tests.customers.factories import CustomerFactory, LeadFactory


def _overdue_lead(tenant, assignee, minutes: int = 20, **extra):
    received = timezone.now() - datetime.timedelta(minutes=minutes)
    return LeadFactory(
        tenant=tenant,
        assignee=assignee,
        received_at=received,
        first_response_due_at=received + datetime.timedelta(minutes=15),
        **extra,
    )


@pytest.fixture
def people(tenant_a, make_staff):
    return {
        "sales": make_staff(tenant_a, Role.SALES),
        "sales2": make_staff(tenant_a, Role.SALES),
        "manager": make_staff(tenant_a, Role.MANAGER),
    }


def test_breach_notifies_assignee_and_managers_once(tenant_a, people):
    with tenant_context(tenant_a):
        lead = _overdue_lead(tenant_a, people["sales"])
        fresh = LeadFactory(tenant=tenant_a, assignee=people["sales"])  # due in 15 minutes
        assert leads_services.lead_sla_scan(tenant=tenant_a) == 1
        assert leads_services.lead_sla_scan(tenant=tenant_a) == 0
        notes = Notification.objects.filter(dedupe_key=f"lead-sla-breach:{lead.pk}")
        assert sorted(n.recipient_id for n in notes) == sorted([people["sales"].pk, people["manager"].pk])
        assert notes[0].kind == "lead_sla_breach" and lead.customer.name in notes[0].title
        lead.refresh_from_db()
        assert lead.sla_breached and LeadSlaBreach.objects.filter(lead=lead).count() == 1
        assert not LeadSlaBreach.objects.filter(lead=fresh).exists()


def test_answered_lead_is_not_breached(tenant_a, people):
    with tenant_context(tenant_a):
        lead = _overdue_lead(tenant_a, people["sales"], minutes=10)
        follow_ups.follow_up_create(
            tenant=tenant_a, customer=lead.customer, author=people["sales"], kind="call", content="已电话联系"
        )
        lead.refresh_from_db()
        assert lead.status == LeadStatus.RESPONDED and lead.response_seconds >= 590
        assert (
            leads_services.lead_sla_scan(tenant=tenant_a, now=timezone.now() + datetime.timedelta(hours=1))
            == 0
        )


def test_internal_note_does_not_stop_the_clock(tenant_a, people):
    with tenant_context(tenant_a):
        lead = _overdue_lead(tenant_a, people["sales"])
        follow_ups.follow_up_create(
            tenant=tenant_a, customer=lead.customer, author=people["sales"], kind="note", content="备注"
        )
        assert leads_services.lead_sla_scan(tenant=tenant_a) == 1


def test_breach_can_reassign(tenant_a, people):
    with tenant_context(tenant_a):
        settings_row = settings.customer_settings_for(tenant=tenant_a)
        settings_row.reassign_on_breach = True
        settings_row.save()
        lead = _overdue_lead(tenant_a, people["sales"])
        leads_services.lead_sla_scan(tenant=tenant_a)
        lead.refresh_from_db()
        assert lead.assignee == people["sales2"]
        assert Notification.objects.filter(
            recipient=people["sales2"], dedupe_key=f"lead-sla-breach:{lead.pk}"
        ).exists()


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_scans_notify_exactly_once(tenant_a, people):
    with tenant_context(tenant_a):
        leads = [_overdue_lead(tenant_a, people["sales"]) for _ in range(30)]
    barrier = threading.Barrier(2)
    results, errors = [], []

    def scan():
        try:
            barrier.wait(timeout=10)
            with tenant_context(tenant_a):
                results.append(leads_services.lead_sla_scan(tenant=tenant_a))
        except Exception as error:  # pragma: no cover - surfaced by the assert below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sum(results) == 30
    with tenant_context(tenant_a):
        assert LeadSlaBreach.objects.count() == 30
        for lead in leads:
            assert Notification.objects.filter(dedupe_key=f"lead-sla-breach:{lead.pk}").count() == 2


@pytest.mark.django_db(transaction=True)
def test_real_worker_duplicated_beats_notify_exactly_once(tenant_a, tenant_b, people, make_staff):
    other_sales = make_staff(tenant_b, Role.SALES)
    with tenant_context(tenant_a):
        lead = _overdue_lead(tenant_a, people["sales"])
    with tenant_context(tenant_b):
        lead_b = _overdue_lead(tenant_b, other_sales)
    with real_worker():
        assert scan_all_tenants.delay().get(timeout=30) >= 2
        assert scan_all_tenants.delay().get(timeout=30) >= 2  # a duplicated beat
        scan_tenant.delay(tenant_id=tenant_a.pk).get(timeout=30)  # and a retry
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with tenant_context(tenant_b):
                done_b = LeadSlaBreach.objects.filter(lead_id=lead_b.pk).exists()
            with tenant_context(tenant_a):
                done_a = LeadSlaBreach.objects.filter(lead_id=lead.pk).exists()
            if done_a and done_b:
                break
            time.sleep(0.3)
        time.sleep(1)  # let any duplicate fan-out finish
    with tenant_context(tenant_a):
        assert LeadSlaBreach.objects.count() == 1
        assert Notification.objects.filter(dedupe_key=f"lead-sla-breach:{lead.pk}").count() == 2
    with tenant_context(tenant_b):
        assert (
            Notification.objects.filter(
                dedupe_key=f"lead-sla-breach:{lead_b.pk}", recipient=other_sales
            ).count()
            == 1
        )


def test_unanswered_lead_returns_to_pool_and_claim_is_first_come(tenant_a, people):
    with tenant_context(tenant_a):
        lead = _overdue_lead(tenant_a, people["sales"], minutes=200)
        Customer.objects.filter(pk=lead.customer_id).update(owner=people["sales"])
        assert pool.lead_pool_scan(tenant=tenant_a) == 1
        customer = Customer.objects.get(pk=lead.customer_id)
        lead.refresh_from_db()
        assert customer.in_pool and customer.owner is None and lead.status == LeadStatus.POOLED
        pool.customer_claim_from_pool(tenant=tenant_a, customer=customer, user=people["sales2"])
        with pytest.raises(Exception) as error:
            pool.customer_claim_from_pool(tenant=tenant_a, customer=customer, user=people["sales"])
        assert "已被领取" in str(error.value)
        customer.refresh_from_db()
        assert customer.owner == people["sales2"] and not customer.in_pool
        assert PoolClaim.objects.get().claimed_by == people["sales2"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_have_one_winner(tenant_a, people):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, in_pool=True, pooled_at=timezone.now())
    barrier = threading.Barrier(2)
    outcomes = []

    def claim(user):
        try:
            barrier.wait(timeout=10)
            with tenant_context(tenant_a):
                pool.customer_claim_from_pool(tenant=tenant_a, customer=customer, user=user)
            outcomes.append(("won", user.pk))
        except Exception as error:
            outcomes.append(("lost", type(error).__name__))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(people[key],)) for key in ("sales", "sales2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(kind for kind, _ in outcomes) == ["lost", "won"]
    assert ("lost", "ValidationError") in outcomes
    with tenant_context(tenant_a):
        assert PoolClaim.objects.count() == 1
        assert Customer.objects.get(pk=customer.pk).owner_id == next(
            pk for kind, pk in outcomes if kind == "won"
        )


def test_idle_customer_returns_to_pool(tenant_a, people):
    with tenant_context(tenant_a):
        idle = CustomerFactory(tenant=tenant_a, owner=people["sales"])
        busy = CustomerFactory(tenant=tenant_a, owner=people["sales"], last_touch_at=timezone.now())
        Customer.objects.filter(pk=idle.pk).update(created_at=timezone.now() - datetime.timedelta(days=40))
        assert pool.lead_pool_scan(tenant=tenant_a) == 1
        assert Customer.objects.get(pk=idle.pk).in_pool
        assert not Customer.objects.get(pk=busy.pk).in_pool


def test_beat_schedule_has_minutely_scan_and_nightly_recompute():
    from crm.celery import app

    schedule = app.conf.beat_schedule
    assert schedule["customers-minutely-scan"]["task"] == "customers.scan_all_tenants"
    assert schedule["customers-minutely-scan"]["schedule"] == 60.0
    assert schedule["customers-nightly-recompute"]["task"] == "customers.recompute_all_tenants"


@pytest.mark.django_db(transaction=True)
def test_nightly_recompute_runs_on_a_real_worker(tenant_a):
    with tenant_context(tenant_a):
        customer = customers.customer_create(tenant=tenant_a, name="甲", phone="13800000001")
        Customer.objects.filter(pk=customer.pk).update(
            created_at=timezone.now() - datetime.timedelta(days=60)
        )
    from customers.tasks import recompute_tenant

    with real_worker():
        assert recompute_tenant.delay(tenant_id=tenant_a.pk).get(timeout=30) == 1
    with tenant_context(tenant_a):
        customer.refresh_from_db()
    assert customer.activity == "silent" and customer.follow_up_status == "first_contact"


def test_sales_follow_up_on_pooled_customer_is_a_recorded_claim(tenant_a, people):
    """Taking a pooled customer by logging a touch is a claim like any other: recorded, once."""
    with tenant_context(tenant_a):
        lead = _overdue_lead(tenant_a, people["sales"], minutes=200)
        assert pool.lead_pool_scan(tenant=tenant_a) == 1
        customer = Customer.objects.get(pk=lead.customer_id)
        follow_ups.follow_up_create(
            tenant=tenant_a, customer=customer, author=people["sales2"], kind="call", content="公海客户回访"
        )
        customer.refresh_from_db()
        assert customer.owner == people["sales2"] and not customer.in_pool and customer.pool_reason == ""
        claim = PoolClaim.objects.get()
        assert claim.customer == customer and claim.claimed_by == people["sales2"]
        with pytest.raises(Exception, match="已被领取"):
            pool.customer_claim_from_pool(tenant=tenant_a, customer=customer, user=people["sales"])


def test_idle_clock_restarts_on_claim_and_on_new_inquiry(tenant_a, people):
    """A claim (or a new inquiry) gives the owner a fresh idle period; the next scan must not
    snatch the customer straight back into the pool."""
    with tenant_context(tenant_a):
        long_ago = timezone.now() - datetime.timedelta(days=40)
        claimed = CustomerFactory(tenant=tenant_a, owner=people["sales"])
        asked = CustomerFactory(tenant=tenant_a, owner=people["sales"])
        Customer.objects.filter(pk__in=[claimed.pk, asked.pk]).update(created_at=long_ago)
        assert pool.lead_pool_scan(tenant=tenant_a) == 2
        claimed.refresh_from_db()
        pool.customer_claim_from_pool(tenant=tenant_a, customer=claimed, user=people["sales2"])
        leads_services.lead_create(
            tenant=tenant_a, name="老客户", phone=asked.phone, source_channel="website"
        )
        asked.refresh_from_db()
        assert not asked.in_pool and asked.owner is not None
        assert pool.lead_pool_scan(tenant=tenant_a) == 0
        claimed.refresh_from_db()
        asked.refresh_from_db()
        assert claimed.owner == people["sales2"] and not claimed.in_pool
        assert not asked.in_pool and asked.owner is not None
