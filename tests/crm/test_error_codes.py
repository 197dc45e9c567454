"""API clients get stable codes beside the messages: ``codes`` mirrors ``errors`` field by field."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from crm.api.exceptions import api_exception_handler

pytestmark = pytest.mark.django_db


def test_service_error_code_reaches_the_client(token_client, manager_a):
    client = token_client(manager_a)
    payload = {"name": "高预算", "filters": {}}
    assert client.post("/api/v1/segments/", payload, format="json").status_code == 201
    response = client.post("/api/v1/segments/", payload, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == "提交的数据有误。"
    assert list(body["errors"]) == ["name"] and len(body["errors"]["name"]) == 1
    assert body["codes"] == {"name": ["segment_name_taken"]}


def test_serializer_error_codes_reach_the_client(token_client, manager_a):
    response = token_client(manager_a).post("/api/v1/segments/", {"filters": {}}, format="json")
    assert response.status_code == 400
    assert response.json()["codes"] == {"name": ["required"]}
    assert response.json()["errors"]["name"]


def test_service_error_without_code_is_invalid_and_params_are_applied():
    error = ValidationError(
        {
            "phone": [
                ValidationError("号码 %(value)s 无效。", code="invalid_phone", params={"value": "123"}),
                ValidationError("另一条。"),
            ],
            "__all__": "整体有误。",
        }
    )
    body = api_exception_handler(error, {}).data
    assert body["errors"] == {"phone": ["号码 123 无效。", "另一条。"], "non_field_errors": ["整体有误。"]}
    assert body["codes"] == {"phone": ["invalid_phone", "invalid"], "non_field_errors": ["invalid"]}
    flat = api_exception_handler(ValidationError("不行。", code="not_allowed"), {}).data
    assert flat["errors"] == {"non_field_errors": ["不行。"]}
    assert flat["codes"] == {"non_field_errors": ["not_allowed"]}


def test_other_errors_keep_their_shape(token_client, manager_a):
    response = token_client(manager_a).get("/api/v1/segments/999999/")
    assert response.status_code == 404
    assert response.json() == {"detail": "未找到。", "errors": {}}


def test_schema_documents_the_error_shape():
    schema = APIClient().get("/api/schema/?format=json").json()
    component = schema["components"]["schemas"]["ValidationError"]
    assert set(component["required"]) == {"detail", "errors", "codes"}
    create = schema["paths"]["/api/v1/segments/"]["post"]["responses"]["400"]
    assert create["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ValidationError"}
    detail = schema["paths"]["/api/v1/segments/{id}/"]["get"]["responses"]["404"]
    assert detail["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
