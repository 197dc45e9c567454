"""Duplicate detection (issue 14 §2): one customer per normalised mobile, even under concurrency."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, Lead
from customers.services import leads, settings
from tests.customers.factories import CustomerFactory


def test_creating_a_known_number_says_whose_customer_it_is(tenant_a, make_staff, api_as):
    owner = make_staff(tenant_a, Role.SALES, display_name="王销售")
    other = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        existing = CustomerFactory(tenant=tenant_a, name="老客户", phone="+8613812345678", owner=owner)
    response = api_as(other).post(
        "/api/v1/customers/", {"name": "新客户", "phone": "138 1234 5678"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    message = body["errors"]["phone"][0]
    assert "王销售" in str(message) and f"#{existing.pk}" in str(message)
    with tenant_context(tenant_a):
        assert Customer.objects.count() == 1


def test_lead_for_a_known_number_attaches_to_the_existing_customer(tenant_a, make_staff):
    owner = make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        existing = CustomerFactory(tenant=tenant_a, phone="+8613812345678", owner=owner)
        lead = leads.lead_create(
            tenant=tenant_a, name="别名", phone="+86 138-1234-5678", source_channel="douyin"
        )
        assert lead.customer_id == existing.pk and lead.assignee_id == owner.pk
        assert Customer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@override_settings(CUSTOMERS_INTAKE_MERGE_HOURS=0)  # no lead merging: only the customer is unique
def test_concurrent_intake_of_one_number_makes_exactly_one_customer(tenant_a):
    with tenant_context(tenant_a):
        key = settings.intake_key_rotate(tenant=tenant_a)
    results: list[int] = []
    barrier = threading.Barrier(4)

    def post(index: int) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_X_INTAKE_KEY=key)
            barrier.wait()
            payload = {"name": f"客户{index}", "phone": "13900001111", "source_channel": "website"}
            results.append(client.post("/api/v1/intake/", payload, format="json").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(index,)) for index in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] * 4
    with tenant_context(tenant_a):
        assert Customer.objects.filter(phone="+8613900001111").count() == 1
        assert Lead.objects.filter(customer__phone="+8613900001111").count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_staff_creates_of_one_number_make_one_customer_and_clear_400s(tenant_a, make_staff):
    """Six connections create the same mobile at once: one 201, five 400 ``duplicate_phone`` naming
    the owner (the unique constraint decides; the race path never answers 500)."""
    from customers.models import CustomerOwnership
    from tests.customers.conftest import api_client_for

    reps = [make_staff(tenant_a, Role.SALES, display_name=f"销售{index}") for index in range(6)]
    clients = [api_client_for(rep) for rep in reps]
    results: list[tuple[int, dict]] = []
    barrier = threading.Barrier(len(clients))

    def post(client) -> None:
        try:
            barrier.wait()
            response = client.post(
                "/api/v1/customers/", {"name": "抢单客户", "phone": "139-0000-2222"}, format="json"
            )
            results.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _body in results)
    assert statuses == [201] + [400] * 5, results
    for status, body in results:
        if status == 400:
            assert body["codes"] == {"phone": ["duplicate_phone"]}
    with tenant_context(tenant_a):
        customer = Customer.objects.get(phone="+8613900002222")
        assert Customer.objects.count() == 1
        assert str(customer.owner) in str([body for status, body in results if status == 400][0])
        # The winner's ownership started with the customer (history trigger), once.
        assert list(CustomerOwnership.objects.values_list("owner_id", flat=True)) == [customer.owner_id]
