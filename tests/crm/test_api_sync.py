"""Incremental sync on every API collection: ``?updated_since=`` / ``?created_since=`` (crm/sync.py).

Walks the router like the cross-tenant probe: a new collection is covered the moment it registers.
"""

from __future__ import annotations

import datetime
import threading
import time

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Role
from crm.sync import TRIGGER_NAME, sync_fields
from crm.tenancy import tenant_context
from tests.crm.test_cross_tenant_probe import _model_of, _route_to_url, api_routes
from tests.factories import StaffFactory, load_all_probe_factories


def list_routes():
    for route, callback in api_routes():
        if "pk>" not in route and callback.actions.get("get") == "list":
            yield route, callback


def _results(payload):
    return payload["results"] if isinstance(payload, dict) else payload


def test_every_collection_declares_sync_columns_with_tenant_led_indexes():
    checked = []
    for route, callback in list_routes():
        model = _model_of(callback.cls, None)
        assert model is not None, f"{route}: set model"
        declared = sync_fields(model)
        assert declared is not None, f"{route}: {model.__name__} must declare api_sync_fields"
        for column in declared:
            model._meta.get_field(column)  # exists
            assert any(list(index.fields)[:2] == ["tenant", column] for index in model._meta.indexes), (
                f"{model.__name__}: no index leading with (tenant, {column})"
            )
        checked.append(route)
    assert len(checked) >= 35


def test_every_collection_filters_and_orders_by_since(tenant_a, admin_a, token_client):
    factories = load_all_probe_factories()
    client = token_client(admin_a)
    future = (timezone.now() + datetime.timedelta(days=1)).isoformat()
    past = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    for route, callback in list_routes():
        model = _model_of(callback.cls, admin_a)
        with tenant_context(tenant_a):
            obj = factories[model](tenant_a)
        url = _route_to_url(route, 0)
        for name in ("updated_since", "created_since"):
            later = client.get(url, {name: future})
            assert later.status_code == 200, (route, name, later.status_code, later.content[:300])
            assert obj.pk not in {row.get("id") for row in _results(later.json())}, f"{route} ?{name}"
            earlier = client.get(url, {name: past})
            assert earlier.status_code == 200, (route, name)
            bad = client.get(url, {name: "yesterday"})
            assert bad.status_code == 400, (route, name, bad.status_code)
            assert bad.json()["codes"][name] == ["invalid"]
        created, updated = sync_fields(model)
        ids = [row["id"] for row in _results(client.get(url, {"updated_since": past}).json()) if "id" in row]
        with tenant_context(tenant_a):
            stamps = list(model._default_manager.filter(pk__in=ids).values_list(updated, "pk"))
        assert [pk for _stamp, pk in sorted(stamps)] == ids, f"{route}: not ordered by ({updated}, id)"


def test_update_without_auto_now_still_moves_updated_at(tenant_a):
    """``QuerySet.update()`` and ``save(update_fields=...)`` skip ``auto_now``; the trigger doesn't."""
    from tests.customers.factories import LeadFactory

    with tenant_context(tenant_a):
        lead = LeadFactory(tenant=tenant_a)
        before = lead.updated_at
        type(lead).objects.filter(pk=lead.pk).update(note="changed")
        lead.refresh_from_db()
        assert lead.updated_at > before
        explicit = before - datetime.timedelta(days=3)
        type(lead).objects.filter(pk=lead.pk).update(updated_at=explicit)
        lead.refresh_from_db()
        assert lead.updated_at == explicit  # an explicit value is kept
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_trigger WHERE tgname = %s", [TRIGGER_NAME])
        assert cursor.fetchone()[0] >= 30


def test_schema_documents_since_parameters_on_every_list(client):
    schema = client.get("/api/schema/?format=json").json()
    missing = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if not get or "{" in path or get.get("operationId", "").endswith("_retrieve"):
            continue
        names = {p["name"] for p in get.get("parameters", [])}
        listed = "cursor" in names or path.endswith("/events/")
        if listed and not {"updated_since", "created_since"} <= names:
            missing.append(path)
    assert not missing


@pytest.mark.django_db(transaction=True)
def test_walking_pages_under_concurrent_inserts_never_skips_or_repeats(tenant_a, token_client):
    """A client walks ``?updated_since=`` page by page while another connection keeps inserting:
    every row that existed is seen exactly once, and no row appears twice in the walk."""
    from customers.models import Customer
    from tests.customers.factories import CustomerFactory

    manager = StaffFactory(tenant=tenant_a, roles=[Role.MANAGER])
    with tenant_context(tenant_a):
        existing = {CustomerFactory(tenant=tenant_a, owner=manager).pk for _ in range(30)}
    client = token_client(manager)
    since = (timezone.now() - datetime.timedelta(minutes=5)).isoformat()
    stop = threading.Event()
    inserted: list[int] = []

    def writer() -> None:
        try:
            while not stop.is_set():
                with tenant_context(tenant_a):
                    inserted.append(CustomerFactory(tenant=tenant_a, owner=manager).pk)
                time.sleep(0.01)
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 30
    while not inserted:  # the writer is running before the walk starts (a slow start under load)
        assert time.monotonic() < deadline, "the writer never inserted"
        time.sleep(0.01)
    seen: list[int] = []
    try:
        url = "/api/v1/customers/"
        params: dict | None = {"updated_since": since, "page_size": 4}
        while url:
            response = client.get(url, params)
            assert response.status_code == 200, response.content
            seen.extend(row["id"] for row in response.json()["results"])
            url, params = response.json()["next"], None
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
    assert len(seen) == len(set(seen)), "a row was repeated"
    assert existing <= set(seen), "a row that existed was skipped"
    assert inserted and set(seen) - existing <= set(inserted)
    assert any(pk in seen for pk in inserted), "rows written during the walk come after, in the walk"
    with tenant_context(tenant_a):
        assert Customer.objects.count() == len(existing) + len(inserted)
