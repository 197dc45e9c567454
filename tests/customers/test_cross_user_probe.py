"""Cross-*user* probe: a sales rep can't reach another rep's customer through any route.

Modelled on tests/crm/test_cross_tenant_probe.py. Every API route whose model is ``Customer`` or
has a foreign key to it is found automatically; the probe makes an object of that model, gives its
customer to rep A, and proves rep B's token gets 404 on the detail routes and doesn't see it in the
lists. Every browser route under /customers/<pk>/ is probed the same way with rep B's session.
"""

from __future__ import annotations

import pytest
from django.db import models
from django.urls import get_resolver

from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer, CustomerSettings
from customers.visibility import CUSTOMER_SCOPED_APPS
from tests.crm.test_cross_tenant_probe import _ids_in, _model_of, _route_to_url, _walk, api_routes
from tests.customers.factories import CustomerFactory
from tests.factories import load_all_probe_factories


def _customer_fk(model) -> list[str] | None:
    """``[""]`` for Customer itself, the names of the foreign keys to it, or None (not customer-related)."""
    if model is Customer:
        return [""]
    names = [
        field.name
        for field in model._meta.concrete_fields
        if isinstance(field, models.ForeignKey) and field.related_model is Customer
    ]
    return names or None


def customer_routes() -> list[tuple[str, object, type, list[str]]]:
    """Routes over customer-scoped apps' models that are, or point at, a customer."""
    routes = []
    for route, callback in api_routes():
        model = _model_of(callback.cls, None)
        if model is None or model._meta.app_label not in CUSTOMER_SCOPED_APPS:
            continue
        fk = _customer_fk(model)
        if fk is not None:
            routes.append((route, callback, model, fk))
    return routes


@pytest.fixture
def reps(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)


def _object_of_rep(tenant, factories, model, fks, rep):
    with tenant_context(tenant):
        obj = factories[model](tenant)
        ids = [obj.pk if fk == "" else getattr(obj, f"{fk}_id") for fk in fks]
        Customer.objects.filter(pk__in=ids).update(owner=rep, in_pool=False, designer=None)
    return obj


def test_probe_finds_the_customer_routes():
    found = {route for route, *_ in customer_routes()}
    for expected in ("customers/", "leads/", "follow-ups/", "consents/", "lead-scores/"):
        assert any(route.startswith(f"api/v1/^{expected}") for route in found), expected


def test_sales_token_gets_404_on_another_reps_customer_everywhere(tenant_a, reps, api_as):
    rep_a, rep_b = reps
    factories = load_all_probe_factories()
    client_b = api_as(rep_b)
    checked = []
    for route, callback, model, fk in customer_routes():
        assert model in factories, f"{route}: register a probe factory for {model.__name__}"
        obj = _object_of_rep(tenant_a, factories, model, fk, rep_a)
        url = _route_to_url(route, obj.pk)
        if "pk>" not in route:
            if "get" in callback.actions:
                response = client_b.get(url)
                if response.status_code == 200 and "json" in response.get("Content-Type", ""):
                    assert obj.pk not in _ids_in(response.json()), f"{route} lists rep A's object to rep B"
                checked.append(route)
            continue
        for method in [m for m in callback.actions if m not in ("head", "options")]:
            response = getattr(client_b, method)(url, {}, format="json")
            assert response.status_code in (403, 404), f"{method.upper()} {route}: {response.status_code}"
            if response.status_code == 403:
                # The role may not use the route at all: prove it isn't the object that decided.
                with tenant_context(tenant_a):
                    own = _object_of_rep(tenant_a, factories, model, fk, rep_b)
                mine = getattr(client_b, method)(_route_to_url(route, own.pk), {}, format="json")
                assert mine.status_code == 403, f"{method.upper()} {route}: 403 leaks existence"
        checked.append(route)
    assert any(route.startswith("api/v1/^customers/") and "reveal" in route for route in checked)


def test_owner_and_manager_still_reach_the_customer(tenant_a, reps, manager_a, api_as):
    rep_a, rep_b = reps
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep_a, phone="+8613800001111")
    assert api_as(rep_a).get(f"/api/v1/customers/{customer.pk}/").json()["phone_display"] == ("13800001111")
    assert api_as(manager_a).get(f"/api/v1/customers/{customer.pk}/").status_code == 200
    assert api_as(rep_b).get(f"/api/v1/customers/{customer.pk}/").status_code == 404


def test_tenant_setting_all_lets_sales_see_every_customer_masked(tenant_a, reps, api_as):
    rep_a, rep_b = reps
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep_a, phone="+8613800001111")
        CustomerSettings.objects.update_or_create(tenant=tenant_a, defaults={"sales_visibility": "all"})
    response = api_as(rep_b).get(f"/api/v1/customers/{customer.pk}/")
    assert response.status_code == 200 and response.json()["phone_display"] == "138****1111"


def test_team_lead_sees_the_team_and_pool_is_shared(tenant_a, make_staff, api_as):
    lead = make_staff(tenant_a, Role.SALES, team="一组", is_team_lead=True)
    member = make_staff(tenant_a, Role.SALES, team="一组")
    stranger = make_staff(tenant_a, Role.SALES, team="二组")
    with tenant_context(tenant_a):
        team_customer = CustomerFactory(tenant=tenant_a, owner=member)
        other_team = CustomerFactory(tenant=tenant_a, owner=stranger)
        pooled = CustomerFactory(tenant=tenant_a, owner=None, in_pool=True)
    listed = {row["id"] for row in api_as(lead).get("/api/v1/customers/").json()["results"]}
    assert team_customer.pk in listed and pooled.pk in listed and other_team.pk not in listed
    member_sees = {row["id"] for row in api_as(member).get("/api/v1/customers/").json()["results"]}
    assert team_customer.pk in member_sees and other_team.pk not in member_sees


def test_designer_sees_only_customers_of_projects_they_are_on(tenant_a, make_staff, api_as):
    from tests.projects.factories import ProjectFactory

    designer = make_staff(tenant_a, Role.DESIGNER)
    with tenant_context(tenant_a):
        mine = ProjectFactory(tenant=tenant_a, designer=designer).customer
        other = ProjectFactory(tenant=tenant_a).customer
    client = api_as(designer)
    assert client.get(f"/api/v1/customers/{mine.pk}/").status_code == 200
    assert client.get(f"/api/v1/customers/{other.pk}/").status_code == 404


def html_detail_routes() -> list[str]:
    return [
        route
        for route, _pattern in _walk(get_resolver().url_patterns)
        if route.startswith("customers/") and "<int:pk>" in route
    ]


def test_sales_session_gets_404_on_another_reps_customer_pages(tenant_a, reps, session_client):
    rep_a, rep_b = reps
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep_a)
    client = session_client(rep_b)
    routes = html_detail_routes()
    assert len(routes) >= 6
    for route in routes:
        url = "/" + route.replace("<int:pk>", str(customer.pk))
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url, {})
        assert response.status_code in (403, 404), f"{url}: {response.status_code}"
        if response.status_code == 403:
            with tenant_context(tenant_a):
                own = CustomerFactory(tenant=tenant_a, owner=rep_b)
            mine_url = "/" + route.replace("<int:pk>", str(own.pk))
            again = client.get(mine_url)
            again = client.post(mine_url, {}) if again.status_code == 405 else again
            assert again.status_code == 403, f"{url}: 403 leaks existence"
    lists = client.get("/customers/").content.decode() + client.get("/customers/leads/").content.decode()
    assert f'href="/customers/{customer.pk}/"' not in lists
