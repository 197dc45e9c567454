"""Compiled list statements reused per request shape (crm/api/compiled.py): same bytes, live rows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from crm.models import Role
from crm.tenancy import tenant_context
from customers.api.customers import LIST_STATEMENTS
from customers.models import Customer, CustomerSettings, SalesVisibility
from tests.customers.factories import CustomerFactory

URLS = (
    "/api/v1/customers/",
    "/api/v1/customers/?budget_tier=high&ordering=-budget_fen&q=客户",
    "/api/v1/customers/?page_size=3&lifecycle=lead&is_local=true",
)


@pytest.fixture(autouse=True)
def _no_statements():
    LIST_STATEMENTS.clear()
    yield
    LIST_STATEMENTS.clear()


def _customers(tenant, count: int = 8, **extra) -> None:
    with tenant_context(tenant):
        for i in range(count):
            CustomerFactory(
                tenant=tenant,
                budget_fen=300_000 + i * 100_000,
                is_local=bool(i % 2),
                style_preferences=["nordic"] if i % 2 else [],
                **extra,
            )


@pytest.mark.parametrize("prepared", [True, False])
def test_a_repeated_first_page_is_byte_identical_and_reads_current_rows(
    tenant_a, manager_a, token_client, prepared
):
    _customers(tenant_a)
    client = token_client(manager_a)
    with override_settings(API_PREPARED_STATEMENTS=prepared):
        first = {url: client.get(url) for url in URLS}
        assert len(LIST_STATEMENTS._entries()) == len(URLS)  # one compiled statement per shape
        for url, response in first.items():
            assert response.status_code == 200
            for _ in range(3):  # the later ones run the compiled (and, if allowed, prepared) statement
                again = client.get(url)
                assert again.content == response.content, url
        # The statement is reused, never its rows: a new customer is listed at once.
        _customers(tenant_a, count=1, name="新客户", lifecycle="lead")
        body = client.get(URLS[0]).json()
    assert body["count"] == first[URLS[0]].json()["count"] + 1
    assert body["results"][0]["name"] == "新客户"


def test_the_statement_is_prepared_on_the_connection(tenant_a, manager_a, token_client):
    _customers(tenant_a)
    client = token_client(manager_a)
    for _ in range(3):
        assert client.get(URLS[0]).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "customers_customer"' in statement for statement in prepared), prepared


def test_shapes_that_depend_on_more_than_the_request_are_built_every_time(
    tenant_a, manager_a, make_staff, token_client, api_as
):
    """Sales users (their narrowing may follow a tenant setting), owner/designer (checked against
    the staff table), saved segments, "days ago" filters, cursors: never compiled for reuse."""
    _customers(tenant_a)
    sales = make_staff(tenant_a, Role.SALES)
    manager = token_client(manager_a)
    for url in (
        f"/api/v1/customers/?owner={sales.pk}",
        "/api/v1/customers/?silent_days=3",
        "/api/v1/customers/?updated_since=2020-01-01T00:00:00Z",
        manager.get("/api/v1/customers/?page_size=2").json()["next"],
    ):
        assert manager.get(url).status_code == 200, url
    assert client_shapes() == 1  # only the plain page_size=2 first page
    assert api_as(sales).get(URLS[0]).status_code == 200
    assert client_shapes() == 1


def client_shapes() -> int:
    return len(LIST_STATEMENTS._entries())


def test_sales_visibility_setting_and_role_changes_apply_at_once(tenant_a, make_staff, api_as):
    _customers(tenant_a)  # nobody's: sales see them (unowned)
    owner = make_staff(tenant_a, Role.SALES)
    _customers(tenant_a, count=3, owner=owner)
    user = make_staff(tenant_a, Role.SALES)
    client = api_as(user)
    assert client.get(URLS[0]).json()["count"] == 8
    with tenant_context(tenant_a):
        CustomerSettings.objects.update_or_create(
            tenant=tenant_a, defaults={"sales_visibility": SalesVisibility.ALL}
        )
    assert client.get(URLS[0]).json()["count"] == 11
    with tenant_context(tenant_a):
        CustomerSettings.objects.filter(tenant=tenant_a).update(sales_visibility=SalesVisibility.OWN)
    assert client.get(URLS[0]).json()["count"] == 8
    user.roles = [Role.MANAGER]
    user.save()
    assert client.get(URLS[0]).json()["count"] == 11  # compiled for the manager shape
    assert client.get(URLS[0]).json()["count"] == 11  # and reused
    user.roles = [Role.SALES]
    user.save()
    assert client.get(URLS[0]).json()["count"] == 8  # the roles are part of the shape


def test_statements_of_one_tenant_never_answer_another(
    tenant_a, tenant_b, manager_a, make_staff, token_client
):
    _customers(tenant_a, count=5)
    _customers(tenant_b, count=2)
    client_a, client_b = token_client(manager_a), token_client(make_staff(tenant_b, Role.MANAGER))
    for _ in range(2):
        ids_a = {row["id"] for row in client_a.get(URLS[0]).json()["results"]}
        ids_b = {row["id"] for row in client_b.get(URLS[0]).json()["results"]}
        assert len(ids_a) == 5 and len(ids_b) == 2 and not ids_a & ids_b
    with tenant_context(tenant_b):
        assert ids_b == set(Customer.objects.values_list("pk", flat=True))
