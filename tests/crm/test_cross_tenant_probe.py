"""Walks every route under /api/v1/ and proves tenant B can't reach tenant A's objects.

A new module is covered the moment it registers a route: the probe finds the viewset, asks the
factory registry (tests/factories.py) for an object of its model in tenant A, and fails if none is
registered. Routes must be flat (``/things/{pk}/...``); other URL kwargs fail the probe on purpose.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework import serializers

from crm.tenancy import tenant_context
from tests.factories import load_all_probe_factories

DETAIL_METHODS = {"get": "retrieve", "put": "update", "patch": "partial_update", "delete": "destroy"}


def _walk(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), entry


def api_routes() -> list[tuple[str, object]]:
    routes = []
    for route, pattern in _walk(get_resolver().url_patterns):
        callback = pattern.callback
        if not route.startswith("api/v1/") or not hasattr(callback, "cls"):
            continue
        if "format" in route or not getattr(callback, "actions", None):
            continue  # format-suffix duplicates and plain APIViews without a queryset
        routes.append((route, callback))
    return routes


def _model_of(viewset_cls, user):
    model = getattr(viewset_cls, "model", None)
    assert (
        model is not None or not hasattr(viewset_cls, "get_queryset") or viewset_cls.queryset is not None
    ), f"{viewset_cls.__name__}: set model (TenantViewSetMixin) so the probe knows what to create"
    return model or (
        viewset_cls.queryset.model if getattr(viewset_cls, "queryset", None) is not None else None
    )


def _route_to_url(route: str, pk) -> str:
    import re

    url = "/" + route.replace("^", "").replace("$", "")
    url = re.sub(r"\(\?P<pk>[^)]+\)", str(pk), url)
    url = url.replace("<pk>", str(pk)).replace("<int:pk>", str(pk))
    assert "<" not in url and "(?P" not in url, f"route {route} has URL kwargs the probe can't fill"
    return url


def _ids_in(payload) -> set:
    items = payload.get("results", payload) if isinstance(payload, dict) else payload
    return {item.get("id") for item in items if isinstance(item, dict)}


@pytest.fixture
def probe_setup(tenant_a, tenant_b, admin_a, admin_b, token_client):
    factories = load_all_probe_factories()
    return factories, token_client(admin_b)


def test_probe_covers_every_api_route(tenant_a, tenant_b, admin_a, admin_b, probe_setup):
    factories, client_b = probe_setup
    checked = []
    for route, callback in api_routes():
        viewset_cls = callback.cls
        model = _model_of(viewset_cls, admin_b)
        if model is None:
            continue
        assert model in factories, f"{route}: register a probe factory for {model.__name__}"
        with tenant_context(tenant_a):
            obj_a = factories[model](tenant_a)
        is_detail = "pk>" in route
        url = _route_to_url(route, obj_a.pk)
        actions = callback.actions
        if not is_detail:
            if "get" in actions:
                response = client_b.get(url)
                # 404: a collection-level action with nothing to show yet (e.g. no trained model)
                assert response.status_code in (200, 404, 405), (route, response.status_code)
                # a file download (e.g. an .xlsx export) has no ids to look at
                if response.status_code == 200 and "json" in response.get("Content-Type", ""):
                    assert obj_a.pk not in _ids_in(response.json()), f"{route} lists tenant A's object"
            checked.append(route)
            continue
        for method in [m for m in list(actions) if m not in ("head", "options")]:
            response = getattr(client_b, method)(url, {}, format="json")
            assert response.status_code == 404, f"{method.upper()} {route}: {response.status_code}"
            assert set(response.json()) == {"detail", "errors"}
        checked.append(route)
    assert any("tokens" in route and "pk>" not in route for route in checked)
    assert any("tokens" in route and "revoke" in route for route in checked)


def _related_fields(serializer) -> dict:
    fields = {}
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        if isinstance(field, serializers.ManyRelatedField):
            fields[name] = (field.child_relation, True)
        elif isinstance(field, serializers.PrimaryKeyRelatedField):
            fields[name] = (field, False)
    return fields


def test_request_bodies_cannot_point_at_another_tenants_objects(tenant_a, tenant_b, admin_b, probe_setup):
    """Every writable FK on every create endpoint rejects tenant A's object for tenant B."""
    factories, client_b = probe_setup
    checked = []
    for route, callback in api_routes():
        if "pk>" in route or "post" not in callback.actions:
            continue
        viewset_cls = callback.cls
        with tenant_context(tenant_b):
            view = viewset_cls()
            view.request, view.format_kwarg, view.kwargs = None, None, {}
            view.action = callback.actions["post"]
            try:
                serializer_class = view.get_serializer_class()
            except (AssertionError, TypeError, AttributeError):
                continue
            if serializer_class is None:
                continue
            related = _related_fields(serializer_class())
        for name, (field, many) in related.items():
            model = field.queryset.model if field.queryset is not None else None
            if model is None:
                with tenant_context(tenant_b):
                    model = field.get_queryset().model
            assert model in factories, f"{route}.{name}: register a probe factory for {model.__name__}"
            with tenant_context(tenant_a):
                foreign = factories[model](tenant_a)
            value = [foreign.pk] if many else foreign.pk
            response = client_b.post(_route_to_url(route, 0), {name: value}, format="json")
            assert response.status_code in (400, 404), (
                f"POST {route} with foreign {name}: {response.status_code}"
            )
            if response.status_code == 400:
                assert name in response.json()["errors"], f"POST {route}: foreign {name} was accepted"
            checked.append(f"{route}.{name}")
    assert any("tokens" in item and item.endswith(".user") for item in checked)


def test_analytics_panels_show_no_other_tenants_numbers(tenant_a, tenant_b, admin_b, probe_setup):
    """The panel routes are plain APIViews (no model): probe them with tenant A's data in place."""
    from analytics.selectors import PANELS
    from tests.analytics.conftest import build_month
    from tests.factories import StaffFactory

    factories, client_b = probe_setup
    build_month(
        tenant_a, lambda tenant, *roles, **extra: StaffFactory(tenant=tenant, roles=list(roles), **extra)
    )
    for panel in PANELS:
        response = client_b.get(f"/api/v1/analytics/{panel}/?range=custom&start=2025-03-01&end=2025-03-31")
        assert response.status_code == 200, panel
        values = [
            value
            for table in response.json()["tables"]
            for row in table["rows"]
            for key, value in row["values"].items()
            if key not in ("planned_days", "rank")
        ]
        assert not any(values), f"/api/v1/analytics/{panel}/ shows tenant A's figures"
