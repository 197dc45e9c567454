"""Lead inbox, customer detail (with its timeline) and project detail: the statements a page costs
do not grow with the rows it shows (issue 12). Each page is measured with one related row of every
kind, then with several, as a manager and as a sales user (visibility and masked numbers)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from tests.aftercare.factories import ServiceTicketFactory
from tests.customers.factories import CustomerFactory, FollowUpFactory, LeadFactory
from tests.projects.factories import DailyLogFactory, ProjectFactory, StageHistoryFactory
from tests.sales.factories import make_appointment, make_task


def _count(client, url: str) -> tuple[int, list[str]]:
    assert client.get(url).status_code == 200  # warm the per-user / per-tenant caches
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries), [query["sql"] for query in captured.captured_queries]


def _assert_same(first: tuple[int, list[str]], more: tuple[int, list[str]]) -> None:
    assert more[0] == first[0], "\n".join(["with 1:", *first[1], "", "with many:", *more[1]])


@pytest.fixture
def sales_a(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES)


def _leads(tenant, owner, count: int) -> None:
    for i in range(count):
        customer = CustomerFactory(tenant=tenant, owner=owner if i % 2 else None)
        LeadFactory(
            tenant=tenant,
            customer=customer,
            assignee=owner,
            received_at=timezone.now() - datetime.timedelta(minutes=5 * i),
        )
        CustomerFactory(tenant=tenant, owner=None, in_pool=True, pooled_at=timezone.now())


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES])
def test_lead_inbox_statements_are_constant(tenant_a, make_staff, sales_a, session_client, role):
    user = sales_a if role == Role.SALES else make_staff(tenant_a, Role.MANAGER)
    client = session_client(user)
    with tenant_context(tenant_a):
        _leads(tenant_a, sales_a, 1)
    first = _count(client, "/customers/leads/")
    with tenant_context(tenant_a):
        _leads(tenant_a, sales_a, 8)
    _assert_same(first, _count(client, "/customers/leads/"))
    _assert_same(first, _count(client, "/customers/leads/?sort=score"))


def _customer_history(tenant, customer, owner, count: int) -> None:
    for _ in range(count):
        FollowUpFactory(tenant=tenant, customer=customer, author=owner)
        LeadFactory(tenant=tenant, customer=customer, assignee=owner)
        project = ProjectFactory(tenant=tenant, customer=customer, designer=owner)
        StageHistoryFactory(tenant=tenant, project=project, changed_by=owner)
        ServiceTicketFactory(tenant=tenant, customer=customer, project=project)
        make_appointment(tenant, customer=customer, staff=owner)
        make_task(tenant, customer=customer, assignee=owner)


DETAIL_STATEMENTS = {Role.MANAGER: 7, Role.SALES: 8}


@pytest.mark.parametrize("role", [Role.MANAGER, Role.SALES])
def test_customer_detail_with_timeline_statements_are_constant(
    tenant_a, make_staff, sales_a, session_client, role
):
    user = sales_a if role == Role.SALES else make_staff(tenant_a, Role.MANAGER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=sales_a)
        _customer_history(tenant_a, customer, sales_a, 1)
    client = session_client(user)
    url = f"/customers/{customer.pk}/"
    first = _count(client, url)
    # Every app's timeline and panel data is one statement (issue 12; was 37 before session 5): the
    # user, SAVEPOINT, set_config, [sales: the visibility setting, the full-phone check,] the
    # customer, the page's data, the tenant reset and RELEASE of the test transaction.
    assert first[0] <= DETAIL_STATEMENTS[role], "\n".join(first[1])
    with tenant_context(tenant_a):
        _customer_history(tenant_a, customer, sales_a, 6)
    _assert_same(first, _count(client, url))


def test_project_detail_statements_are_constant(tenant_a, make_staff, session_client):
    manager = make_staff(tenant_a, Role.MANAGER)
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a, signed=True)

        def more(count: int) -> None:
            for _ in range(count):
                StageHistoryFactory(tenant=tenant_a, project=project, changed_by=manager)
                DailyLogFactory(tenant=tenant_a, project=project, author=manager)
                make_appointment(tenant_a, customer=project.customer, project=project, staff=manager)
                make_task(tenant_a, customer=project.customer, project=project, assignee=manager)

        more(1)
    client = session_client(manager)
    urls = [f"/projects/{project.pk}/", f"/projects/{project.pk}/?tab=logs"]
    first = [_count(client, url) for url in urls]
    # User, savepoint, tenant setting, the project row with team, stage settings, budget, history
    # and acceptances in ONE statement (6 before), the sales panel's appointments and tasks, tenant
    # reset, release: 8 (13 before).
    assert first[0][0] <= 8, "\n".join(first[0][1])
    with tenant_context(tenant_a):
        more(6)
    for before, url in zip(first, urls, strict=True):
        _assert_same(before, _count(client, url))
