"""``Idempotency-Key`` on every create in the API, applied once by the shared base (crm/api/viewsets.py).

Walks the router: every ``POST`` on a collection is proved to replay the first response for the
same key and body (nothing new written) and to refuse the same key with another body (422).
A valid body comes from the probe factory's object for the route's model, read back through the
route's own serializer; routes whose input differs from their output are listed in ``BODIES``.
"""

from __future__ import annotations

import uuid

from rest_framework import serializers

from crm.api.viewsets import TenantViewSetMixin
from crm.models import TokenModule
from crm.tenancy import tenant_context
from tests.crm.test_cross_tenant_probe import _model_of, _route_to_url, api_routes
from tests.factories import load_all_probe_factories


def create_routes():
    for route, callback in api_routes():
        if "pk>" not in route and callback.actions.get("post") == "create":
            yield route, callback


def _writable_body(callback, obj, tenant) -> dict:
    view = callback.cls()
    view.request, view.format_kwarg, view.kwargs = None, None, {}
    view.action = "create"
    serializer_class = view.get_serializer_class()
    writer = serializer_class()
    body = {}
    with tenant_context(tenant):
        for name, field in writer.fields.items():
            if field.read_only or isinstance(field, serializers.FileField | serializers.HiddenField):
                continue
            source = field.source or name
            if source == "*" or "." in source:
                continue
            value = getattr(obj, source, None)
            if value is None:
                continue
            if hasattr(value, "all") and callable(value.all):
                value = [item.pk for item in value.all()]
            try:
                body[name] = field.to_representation(value)
            except (AttributeError, TypeError, ValueError, KeyError):
                continue
    return body


BODIES = {
    "tokens": lambda ctx: {"name": "sync", "scopes": [f"{TokenModule.CUSTOMERS}:read"]},
    "webhooks": lambda ctx: {"url": "https://example.com/hook", "event_types": ["lead.created"]},
    "referral-accounts": lambda ctx: {"customer": ctx["customer"]},
    "inspections": lambda ctx: {
        "project": ctx["project"],
        "items": [{"title": "墙砖空鼓率", "passed": True}, {"title": "地漏坡度", "passed": True}],
    },
    "change-orders": lambda ctx: {
        "project": ctx["project"],
        "title": "增加地暖",
        "reason": "客户要求",
        "lines": [{"description": "水地暖", "quantity": "45", "unit": "㎡", "unit_price_fen": 160}],
    },
}


def test_every_create_honours_idempotency_key(tenant_a, admin_a, token_client):
    factories = load_all_probe_factories()
    client = token_client(admin_a)
    from engagement.services.consent import consent_record
    from projects.models import Stage
    from tests.customers.factories import CustomerFactory
    from tests.projects.factories import ProjectFactory

    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a, owner=admin_a, tags=["儿童房"])
        # a push rule needs an audience: one customer who opted in to SMS
        consent_record(
            tenant=tenant_a, customer=customer, channel="sms", state="granted", source="signup_page"
        )
        project = ProjectFactory(
            tenant=tenant_a, signed=True, contract_amount_fen=100000, stage=Stage.MASONRY
        )
        ctx = {"customer": customer.pk, "project": project.pk}
    replayed, failures = [], []
    for route, callback in create_routes():
        assert issubclass(callback.cls, TenantViewSetMixin), f"{route}: subclass the shared API base"
        url = _route_to_url(route, 0)
        model = _model_of(callback.cls, admin_a)
        name = url.strip("/").split("/")[-1]
        if name in BODIES:
            body = BODIES[name](ctx)
        else:
            with tenant_context(tenant_a):
                obj = factories[model](tenant_a)
            body = _writable_body(callback, obj, tenant_a)
            with tenant_context(tenant_a):
                try:
                    obj.delete()  # so uniqueness rules accept the same values again
                except Exception:  # noqa: BLE001 - protected rows stay; the body may still be valid
                    pass
        key = uuid.uuid4().hex
        first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        if first.status_code >= 300:
            failures.append((route, first.status_code, first.json()))
            continue
        with tenant_context(tenant_a):
            count = model._default_manager.count()
        again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert again.status_code == first.status_code, route
        assert again.json() == first.json(), route
        assert again["Idempotent-Replayed"] == "true"
        with tenant_context(tenant_a):
            assert model._default_manager.count() == count, f"{route}: replay wrote a row"
        other = client.post(url, {**body, "_other": 1}, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert other.status_code == 422, route
        assert other.json()["code"] == "idempotency_key_reused"
        replayed.append(route)
    assert not failures, failures


def test_invalid_key_and_failed_first_request(tenant_a, admin_a, token_client):
    client = token_client(admin_a)
    bad = client.post("/api/v1/segments/", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="é" * 3)
    assert bad.status_code == 400 and bad.json()["codes"]["Idempotency-Key"] == ["idempotency_key_invalid"]
    # A failed request does not consume its key: fix the body, retry with the same key.
    failed = client.post("/api/v1/segments/", {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert failed.status_code == 400
    ok = client.post(
        "/api/v1/segments/", {"name": "高预算", "filters": {}}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert ok.status_code == 201, ok.content
    # Without the header nothing changes: two posts, two rows.
    first = client.post("/api/v1/segments/", {"name": "甲", "filters": {}}, format="json")
    second = client.post("/api/v1/segments/", {"name": "乙", "filters": {}}, format="json")
    assert first.json()["id"] != second.json()["id"]


def test_schema_declares_the_header_on_every_create(client):
    schema = client.get("/api/schema/?format=json").json()
    creates = 0
    for path, operations in schema["paths"].items():
        post = operations.get("post")
        if not post or "{" in path or "get" not in operations or not post["operationId"].endswith("_create"):
            continue
        creates += 1
        headers = {p["name"] for p in post.get("parameters", []) if p["in"] == "header"}
        assert "Idempotency-Key" in headers, path
        assert {"409", "422"} <= set(post["responses"]), path
    assert creates >= 20
