"""API conventions: the root lists every collection, renamed paths keep a deprecated alias, every
delete publishes a tombstone, a survey's link is readable by an authorised client, integrations
are in the navigation."""

from __future__ import annotations

from crm.events.models import Event
from crm.events.types import EventType
from crm.models import Role
from crm.tenancy import tenant_context
from tests.crm.test_cross_tenant_probe import _model_of, _route_to_url, api_routes
from tests.factories import StaffFactory, load_all_probe_factories


def test_root_lists_every_collection(tenant_a, admin_a, token_client):
    client = token_client(admin_a)
    listed = client.get("/api/v1/").json()
    expected = set()
    for route, callback in api_routes():
        if "pk>" not in route and callback.actions.get("get") == "list":
            expected.add(route.removeprefix("api/v1/").replace("^", "").replace("$", "").rstrip("/"))
    expected.discard("project-stages")  # deprecated alias: in the schema, not in the directory
    assert set(listed) == expected
    assert listed["project-stage-history"].endswith("/api/v1/project-stage-history/")
    for path, url in listed.items():
        assert client.get(url).status_code == 200, path
    assert "project-stages" not in listed and "events" in listed and "webhooks" in listed


def test_stage_history_new_name_and_deprecated_alias(tenant_a, admin_a, token_client, client):
    from tests.projects.factories import ProjectFactory

    with tenant_context(tenant_a):
        ProjectFactory(tenant=tenant_a)
    api = token_client(admin_a)
    new = api.get("/api/v1/project-stage-history/")
    old = api.get("/api/v1/project-stages/")
    assert new.status_code == old.status_code == 200
    assert new.json()["results"] == old.json()["results"]
    assert old["Deprecation"] == "true" and "project-stage-history" in old["Link"]
    assert "Deprecation" not in new
    schema = client.get("/api/schema/?format=json").json()["paths"]
    assert schema["/api/v1/project-stages/"]["get"]["deprecated"] is True
    assert not schema["/api/v1/project-stage-history/"]["get"].get("deprecated")


def test_every_delete_route_publishes_a_tombstone(tenant_a, admin_a, token_client):
    factories = load_all_probe_factories()
    client = token_client(admin_a)
    deleted = []
    for route, callback in api_routes():
        if "pk>" not in route or callback.actions.get("delete") != "destroy":
            continue
        model = _model_of(callback.cls, admin_a)
        with tenant_context(tenant_a):
            obj = factories[model](tenant_a)
        response = client.delete(_route_to_url(route, obj.pk))
        assert response.status_code == 204, (route, response.status_code)
        collection = _route_to_url(route, obj.pk).removeprefix("/api/v1/").rsplit("/", 2)[0]
        with tenant_context(tenant_a):
            event = Event.objects.get(
                type=EventType.RECORD_DELETED, aggregate_id=obj.pk, payload__collection=collection
            )
            assert event.payload == {"record_id": obj.pk, "collection": collection}
            assert not model._default_manager.filter(pk=obj.pk).exists()
        deleted.append(collection)
    assert {"segments", "targets", "webhooks"} <= set(deleted)
    with tenant_context(tenant_a):
        assert Event.objects.filter(type=EventType.RECORD_DELETED).count() == len(deleted)


def test_failed_delete_publishes_nothing(tenant_a, admin_a, token_client):
    client = token_client(admin_a)
    assert client.delete("/api/v1/segments/999999/").status_code == 404
    with tenant_context(tenant_a):
        assert not Event.objects.filter(type=EventType.RECORD_DELETED).exists()


def test_survey_link_readable_by_authorised_client(tenant_a, admin_a, token_client, client):
    from aftercare.services import surveys
    from tests.customers.factories import CustomerFactory

    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
        survey = surveys.survey_create(
            tenant=tenant_a,
            customer=customer,
            kind="csat",
            trigger="handover",
            dedupe_key="t1",
            send_sms=False,
        )
    row = token_client(admin_a).get(f"/api/v1/surveys/{survey.pk}/").json()
    assert row["token"] == survey.token
    assert row["public_url"].endswith(f"/aftercare/s/{survey.token}/")
    assert client.get(row["public_url"].split("testserver", 1)[1]).status_code == 200
    # Someone who may read surveys but not send them does not get the customer's link.
    viewer = StaffFactory(tenant=tenant_a, roles=[Role.SALES])  # surveys.view without surveys.send
    client.force_login(viewer, backend="django.contrib.auth.backends.ModelBackend")
    hidden = client.get(f"/api/v1/surveys/{survey.pk}/").json()
    assert hidden["token"] is None and hidden["public_url"] is None


def test_integrations_in_navigation_for_managers_only(tenant_a, manager_a, make_staff, session_client):
    page = session_client(manager_a).get("/")
    assert 'href="/integrations/webhooks/"' in page.content.decode()
    listing = session_client(manager_a).get("/integrations/webhooks/").content.decode()
    assert "/integrations/robot/" in listing and "/events/" in listing
    sales = make_staff(tenant_a, Role.SALES)
    assert 'href="/integrations/webhooks/"' not in session_client(sales).get("/").content.decode()
