"""Input bounds: every row of the fuzzing report (issue 9 §2) is a 400 or works, never a 500."""

from __future__ import annotations

import io

import openpyxl
import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from crm.models import Role
from crm.tenancy import tenant_context
from customers.forms import CustomerForm
from customers.models import Customer, Segment
from customers.services import settings as customer_settings
from projects.models import Project
from referrals.models import ReferralSettings
from tests.customers.factories import CustomerFactory
from tests.projects.factories import ProjectFactory

CONTROL = "张\x01伟"


@pytest.fixture
def manager_api(manager_a, token_client) -> APIClient:
    return token_client(manager_a)


# --------------------------------------------------------------------------- singleton settings


def test_segment_created_with_a_name_only(tenant_a, manager_api):
    response = manager_api.post("/api/v1/segments/", {"name": "x"}, format="json")
    assert response.status_code == 201, response.content
    with tenant_context(tenant_a):
        assert Segment.objects.get().filters == {}


def test_referral_settings_put_keeps_what_is_left_out(tenant_a, manager_api):
    response = manager_api.put("/api/v1/referral-settings/current/", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["rule_kind"] == "fixed"
    response = manager_api.put(
        "/api/v1/referral-settings/current/", {"rule_kind": "percentage", "percentage_bp": 200}, format="json"
    )
    assert response.status_code == 200
    response = manager_api.put("/api/v1/referral-settings/current/", {"vip_threshold": 5}, format="json")
    assert response.status_code == 200
    with tenant_context(tenant_a):
        rule = ReferralSettings.objects.get()
    assert (rule.rule_kind, rule.percentage_bp, rule.vip_threshold) == ("percentage", 200, 5)


@pytest.mark.parametrize("path", ["/api/v1/notification-settings/", "/api/v1/referral-settings/current/"])
def test_options_on_singleton_settings(manager_api, path):
    response = manager_api.options(path)
    assert response.status_code == 200, response.content
    assert "PUT" in response.json().get("actions", {})


# --------------------------------------------------------------------------- control characters


def test_intake_rejects_control_characters(tenant_a, make_staff):
    cache.clear()
    make_staff(tenant_a, Role.SALES)
    with tenant_context(tenant_a):
        key = customer_settings.intake_key_rotate(tenant=tenant_a)
    client = APIClient()
    client.credentials(HTTP_X_INTAKE_KEY=key)
    response = client.post("/api/v1/intake/", {"name": CONTROL, "phone": "13812345678"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert not Customer.objects.exists()


def test_api_rejects_control_characters_with_a_stable_code(tenant_a, manager_api):
    response = manager_api.post(
        "/api/v1/customers/", {"name": CONTROL, "phone": "13812345678"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    response = manager_api.post(
        "/api/v1/customers/", {"name": "张伟", "phone": "13812345678", "tags": ["a\x1fb"]}, format="json"
    )
    assert response.status_code == 400 and "tags" in response.json()["errors"]
    # Tab and line breaks are ordinary text.
    response = manager_api.post(
        "/api/v1/customers/", {"name": "张伟", "phone": "13812345678", "address": "一\n二\t三"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_form_rejects_control_characters(tenant_a):
    with tenant_context(tenant_a):
        form = CustomerForm(data={"name": CONTROL, "phone": "13812345678", "source_channel": "website"})
        assert not form.is_valid()
        assert form.errors.as_data()["name"][0].code == "control_characters"


def test_import_rejects_control_characters(tenant_a, manager_a, session_client):
    content = "姓名,手机号,小区\n好行,13811110001,万科\x02城\n".encode()
    upload = SimpleUploadedFile("customers.csv", content, "text/csv")
    response = session_client(manager_a).post(reverse("customers:import"), {"file": upload})
    assert response.status_code == 400
    assert {(e["row"], e["field"]) for e in response.context["errors"]} == {(2, "community")}
    with tenant_context(tenant_a):
        assert not Customer.objects.exists()


def test_xlsx_export_survives_legacy_control_characters(tenant_a, manager_api):
    with tenant_context(tenant_a):
        CustomerFactory(tenant=tenant_a, name=CONTROL, community="花园\x0b小区")
    response = manager_api.get("/api/v1/customers/export/?file_format=xlsx")
    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "张伟" and "花园小区" in rows[1]


# --------------------------------------------------------------------------- numbers and dates


def test_silent_days_out_of_range_is_400(manager_api):
    response = manager_api.get("/api/v1/customers/?silent_days=3000000")
    assert response.status_code == 400
    assert "silent_days" in response.json()["errors"]
    assert manager_api.get("/api/v1/customers/?silent_days=30").status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/leads/?received_after=2026-01-01T00:00:00%2B20:20",
        "/api/v1/follow-ups/?due_before=2026-01-01T00:00:00-21:08",
        "/api/v1/follow-ups/?due_before=0001-01-01T00:00:00%2B14:00",
        "/api/v1/customers/?created_after=0001-01-01",
    ],
)
def test_datetime_filters_reject_impossible_offsets_and_years(manager_api, url):
    response = manager_api.get(url)
    assert response.status_code == 400, response.content


def test_datetime_filters_accept_real_offsets(manager_api):
    assert manager_api.get("/api/v1/leads/?received_after=2026-01-01T00:00:00%2B14:00").status_code == 200
    assert manager_api.get("/api/v1/follow-ups/?due_before=2026-01-01T00:00:00-12:00").status_code == 200


def test_sign_with_an_amount_past_bigint_is_400(tenant_a, manager_api):
    with tenant_context(tenant_a):
        project = ProjectFactory(tenant=tenant_a)
    response = manager_api.post(
        f"/api/v1/projects/{project.pk}/sign/",
        {"contract_number": "HT-1", "contract_amount_fen": 13298826176871868416, "signed_on": "2026-01-01"},
        format="json",
    )
    assert response.status_code == 400
    assert "contract_amount_fen" in response.json()["errors"]
    with tenant_context(tenant_a):
        assert Project.objects.get(pk=project.pk).contract_amount_fen is None


def test_api_datetime_field_rejects_impossible_offset(tenant_a, manager_api):
    with tenant_context(tenant_a):
        customer = CustomerFactory(tenant=tenant_a)
    response = manager_api.post(
        "/api/v1/follow-ups/",
        {"customer": customer.pk, "kind": "call", "content": "x", "occurred_at": "2026-01-01T00:00:00+20:20"},
        format="json",
    )
    assert response.status_code == 400 and "occurred_at" in response.json()["errors"]


def test_form_integer_over_a_model_column_has_the_column_range(tenant_a):
    with tenant_context(tenant_a):
        data = {"name": "张伟", "phone": "13812345678", "source_channel": "website"}
        form = CustomerForm(data={**data, "budget_fen": 10**11})  # yuan: past MONEY_MAX once in fen
        assert not form.is_valid() and "budget_fen" in form.errors


# --------------------------------------------------------------------------- every field is bounded

APPS = ("crm", "customers", "projects", "aftercare", "referrals", "analytics", "integrations", "quotes")


def _ours(cls) -> bool:
    return cls.__module__.split(".")[0] in APPS


def _subclasses(base) -> set:
    found, stack = set(), [base]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return {cls for cls in found if _ours(cls)}


def _import_everything() -> None:
    import importlib

    for app in APPS:
        for room in ("api", "views", "forms", "filters", "pages"):
            try:
                importlib.import_module(f"{app}.{room}")
            except ModuleNotFoundError:
                pass
    for module in ("crm.notifications.api", "crm.api.views", "crm.events.api"):
        importlib.import_module(module)


def _unbounded(field, path: str) -> list[str]:
    from rest_framework import serializers

    from crm.api import fields as bounded
    from crm.validators import validate_no_control_characters

    if getattr(field, "read_only", False):
        return []
    if isinstance(field, serializers.ListField | serializers.DictField):
        return _unbounded(field.child, f"{path}[]")
    if isinstance(field, serializers.BaseSerializer):
        child = getattr(field, "child", field)
        return [p for name, f in child.fields.items() for p in _unbounded(f, f"{path}.{name}")]
    if isinstance(field, serializers.CharField) and validate_no_control_characters not in field.validators:
        return [path]
    if isinstance(field, serializers.IntegerField) and (field.max_value is None or field.min_value is None):
        return [path]
    if isinstance(field, serializers.DateTimeField) and not isinstance(field, bounded.DateTimeField):
        return [path]
    if isinstance(field, serializers.DateField) and not isinstance(field, bounded.DateField):
        return [path]
    return []


def test_every_writable_api_field_is_bounded(tenant_a):
    from rest_framework import serializers

    _import_everything()
    problems = []
    with tenant_context(tenant_a):
        for cls in _subclasses(serializers.Serializer):
            if issubclass(cls, serializers.ModelSerializer) and not hasattr(cls, "Meta"):
                continue  # an abstract base
            try:
                instance = cls()
            except TypeError:  # needs constructor arguments: checked where it is used
                continue
            for name, field in instance.fields.items():
                problems += _unbounded(field, f"{cls.__name__}.{name}")
    assert problems == []


def test_every_form_and_filter_is_bounded():
    import django_filters
    from django import forms

    from crm import filters as bounded
    from crm.forms import BoundedFieldsMixin, LoginForm

    _import_everything()
    unbounded_forms = [
        cls.__name__
        for cls in _subclasses(forms.BaseForm)
        if not issubclass(cls, BoundedFieldsMixin) and cls is not LoginForm
    ]
    assert unbounded_forms == []
    required = {
        django_filters.NumberFilter: (bounded.IntegerFilter, bounded.DecimalFilter),
        django_filters.IsoDateTimeFilter: (bounded.DateTimeFilter,),
        django_filters.DateTimeFilter: (bounded.DateTimeFilter,),
        django_filters.DateFilter: (bounded.DateFilter,),
        django_filters.CharFilter: (bounded.CharFilter,),
    }
    unbounded_filters = [
        f"{cls.__name__}.{name}"
        for cls in _subclasses(django_filters.FilterSet)
        for name, filter_ in cls.base_filters.items()
        for plain, allowed in required.items()
        if isinstance(filter_, plain) and not isinstance(filter_, allowed)
    ]
    assert unbounded_filters == []


def test_referral_settings_percentage_past_100_is_400_whatever_the_rule(tenant_a, manager_api):
    response = manager_api.put(
        "/api/v1/referral-settings/current/", {"rule_kind": "fixed", "percentage_bp": 10_001}, format="json"
    )
    assert response.status_code == 400 and "percentage_bp" in response.json()["errors"]


def test_team_target_created_without_a_user(manager_api):
    response = manager_api.post("/api/v1/targets/", {"month": "2026-01-01"}, format="json")
    assert response.status_code in (201, 400), response.content


def test_event_feed_schema_is_the_object_it_returns():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    response = schema["paths"]["/api/v1/events/"]["get"]["responses"]["200"]["content"]["application/json"]
    assert response["schema"] == {"$ref": "#/components/schemas/EventFeed"}
