"""Cross-*user* probe over the customer's work (issue 14 §1): projects, aftercare and referrals.

A sales rep must not see or pick another rep's customer through any of them. The API half finds
every route whose model hangs on a customer one hop away (a project's logs, a plan's visits); the
rows with a direct foreign key to the customer are probed by tests/customers/test_cross_user_probe.py.
The page half walks every browser route with an id under /projects/, /aftercare/ and /referrals/.
"""

from __future__ import annotations

import re

import pytest
from django.urls import get_resolver

from aftercare.models import MaintenancePlan, ServiceTicket, Visit
from crm.models import Role
from crm.tenancy import tenant_context
from customers.models import Customer
from customers.visibility import CUSTOMER_SCOPED_APPS, WORK_APPS, _customer_paths
from projects.models import Project
from referrals.models import Referral, ReferralAccount
from tests.crm.test_cross_tenant_probe import _ids_in, _model_of, _route_to_url, _walk, api_routes
from tests.customers.factories import CustomerFactory
from tests.factories import load_all_probe_factories
from tests.projects.factories import ProjectFactory


def _customer_ids(obj, paths: list[str]) -> list[int]:
    ids = []
    for path in paths:
        target = obj
        *hops, last = path.split("__")
        for hop in hops:
            target = getattr(target, hop) if target is not None else None
        if target is not None:
            ids.append(getattr(target, f"{last}_id"))
    return [pk for pk in ids if pk is not None]


def work_routes() -> list[tuple[str, object, type, list[str]]]:
    routes = []
    for route, callback in api_routes():
        model = _model_of(callback.cls, None)
        if model is None or model._meta.app_label not in WORK_APPS:
            continue
        paths = _customer_paths(model)
        if paths and any("__" in path for path in paths):
            routes.append((route, callback, model, paths))
    return routes


@pytest.fixture
def api_as():
    from rest_framework.test import APIClient

    from crm.models import ApiToken, hash_token

    def make(user) -> APIClient:
        plaintext, prefix = ApiToken.generate()
        with tenant_context(user.tenant):
            ApiToken.objects.create(
                tenant=user.tenant, name="probe", user=user, prefix=prefix, key_hash=hash_token(plaintext)
            )
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {plaintext}")
        return client

    return make


@pytest.fixture
def reps(tenant_a, make_staff):
    return make_staff(tenant_a, Role.SALES), make_staff(tenant_a, Role.SALES)


def _give_to(rep, ids):
    Customer.objects.filter(pk__in=ids).update(owner=rep, in_pool=False, designer=None)


def test_work_apps_follow_customer_visibility():
    assert WORK_APPS <= CUSTOMER_SCOPED_APPS
    found = {model for *_, model, _paths in work_routes()}
    assert {"DailyLog", "ChangeOrder"} <= {model.__name__ for model in found}


def test_sales_token_gets_404_on_another_reps_project_rows(tenant_a, reps, api_as):
    rep_a, rep_b = reps
    factories = load_all_probe_factories()
    client_b = api_as(rep_b)
    checked = 0
    for route, callback, model, paths in work_routes():
        assert model in factories, f"{route}: register a probe factory for {model.__name__}"
        with tenant_context(tenant_a):
            obj = factories[model](tenant_a)
            _give_to(rep_a, _customer_ids(obj, paths))
        url = _route_to_url(route, obj.pk)
        if "pk>" not in route:
            if "get" in callback.actions:
                response = client_b.get(url)
                if response.status_code == 200 and "json" in response.get("Content-Type", ""):
                    assert obj.pk not in _ids_in(response.json()), f"{route} lists rep A's row to rep B"
            checked += 1
            continue
        for method in [m for m in callback.actions if m not in ("head", "options")]:
            response = getattr(client_b, method)(url, {}, format="json")
            assert response.status_code in (403, 404), f"{method.upper()} {route}: {response.status_code}"
        checked += 1
    assert checked >= 4


def test_sales_token_cannot_pick_another_reps_customer_or_project(tenant_a, reps, api_as):
    rep_a, rep_b = reps
    with tenant_context(tenant_a):
        theirs = CustomerFactory(tenant=tenant_a, owner=rep_a)
        project = ProjectFactory(tenant=tenant_a, customer=theirs)
        mine = CustomerFactory(tenant=tenant_a, owner=rep_b)
    client = api_as(rep_b)
    created = client.post("/api/v1/projects/", {"customer": theirs.pk, "name": "别人的项目"}, format="json")
    assert created.status_code in (400, 403) and "customer" in str(created.json())
    assert client.get(f"/api/v1/projects/{project.pk}/").status_code == 404
    listed = {row["id"] for row in client.get("/api/v1/projects/").json()["results"]}
    assert project.pk not in listed
    own = client.post("/api/v1/projects/", {"customer": mine.pk, "name": "我的项目"}, format="json")
    assert own.status_code in (201, 403)


def _page_object(tenant, route: str, factories, rep):
    """The row a page route with an id shows, created for rep A's customer."""
    prefixes = [
        ("projects/", Project),
        ("aftercare/plans/", MaintenancePlan),
        ("aftercare/visits/", Visit),
        ("aftercare/tickets/", ServiceTicket),
        ("referrals/accounts/", ReferralAccount),
        ("referrals/customers/", Customer),
        ("referrals/", Referral),
    ]
    model = next(model for prefix, model in prefixes if route.startswith(prefix))
    with tenant_context(tenant):
        obj = factories[model](tenant) if model is not Customer else CustomerFactory(tenant=tenant)
        paths = [""] if model is Customer else _customer_paths(model)
        ids = [obj.pk] if model is Customer else _customer_ids(obj, paths)
        _give_to(rep, ids)
    return obj


def html_work_routes() -> list[str]:
    return [
        route
        for route, _pattern in _walk(get_resolver().url_patterns)
        if route.split("/")[0] in WORK_APPS and ("<int:pk>" in route or "<int:customer_id>" in route)
    ]


def test_sales_session_gets_404_on_another_reps_work_pages(tenant_a, reps, session_client):
    rep_a, rep_b = reps
    factories = load_all_probe_factories()
    client = session_client(rep_b)
    routes = html_work_routes()
    assert len(routes) >= 20
    for route in routes:
        obj = _page_object(tenant_a, route, factories, rep_a)
        url = "/" + re.sub(r"<int:(pk|customer_id)>", str(obj.pk), route)
        url = re.sub(r"<int:\w+>", "1", url)
        response = client.get(url)
        if response.status_code == 405:
            response = client.post(url, {})
        assert response.status_code in (403, 404), f"{url}: {response.status_code}"


def test_lists_forms_and_search_leave_out_another_reps_customer(tenant_a, reps, session_client):
    rep_a, rep_b = reps
    with tenant_context(tenant_a):
        theirs = CustomerFactory(tenant=tenant_a, owner=rep_a, name="别人家客户")
        project = ProjectFactory(tenant=tenant_a, customer=theirs, name="别人家项目")
        mine = CustomerFactory(tenant=tenant_a, owner=rep_b, name="自己的客户")
        ProjectFactory(tenant=tenant_a, customer=mine, name="自己的项目")
    client = session_client(rep_b)
    listing = client.get("/projects/").content.decode()
    assert "自己的项目" in listing and "别人家项目" not in listing
    assert "别人家项目" not in client.get("/projects/?q=别人家").content.decode()
    assert "别人家项目" not in client.get("/projects/board/").content.decode()
    form = client.get("/projects/new/")
    if form.status_code == 200:
        page = form.content.decode()
        assert "自己的客户" in page and "别人家客户" not in page
    assert client.get(f"/projects/{project.pk}/").status_code == 404


def test_full_phone_only_for_the_people_on_the_project(tenant_a, reps, make_staff, session_client):
    """The delivery queue shows every project, but the full number only to the people on it."""
    rep_a, _rep_b = reps
    on_it, other_pm = make_staff(tenant_a, Role.PROJECT_MANAGER), make_staff(tenant_a, Role.PROJECT_MANAGER)
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=rep_a, phone="+8613800002222")
        project = ProjectFactory(tenant=tenant_a, customer=customer, project_manager=on_it, designer=None)
    on_page = session_client(on_it).get(f"/projects/{project.pk}/").content.decode()
    assert "13800002222" in on_page
    other_page = session_client(other_pm).get(f"/projects/{project.pk}/").content.decode()
    assert "13800002222" not in other_page and "138****2222" in other_page
    owner_page = session_client(rep_a).get(f"/projects/{project.pk}/").content.decode()
    assert "13800002222" in owner_page
