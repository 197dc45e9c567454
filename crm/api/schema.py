"""OpenAPI: the one error shape as components, referenced by every operation that validates input."""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema

_FIELD_LISTS = {
    "type": "object",
    # A field's messages (codes), or, for nested input (list items, nested objects), the same map
    # keyed by index or sub-field: the fuzzer found both shapes.
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "object"}]}},
            {"type": "object"},
        ]
    },
}

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every 4xx answer: a message and, for other errors than invalid input, no field errors.",
    "properties": {
        "detail": {"type": "string"},
        "errors": {"type": "object", "description": "Empty except for invalid input (400)."},
    },
    "required": ["detail", "errors"],
}

VALIDATION_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": (
        "Invalid input (400). `errors` maps each field (or `non_field_errors`) to its messages, "
        "`codes` maps the same fields to stable machine-readable codes in the same order "
        "(e.g. `required`, `invalid`, `invalid_choice`, `max_value`, `duplicate_phone`); "
        "branch on codes, show the messages. Nested input nests the same way."
    ),
    "properties": {
        "detail": {"type": "string", "example": "提交的数据有误。"},
        "errors": {**_FIELD_LISTS, "example": {"phone": ["手机号格式不正确。"]}},
        "codes": {**_FIELD_LISTS, "example": {"phone": ["invalid_phone"]}},
    },
    "required": ["detail", "errors", "codes"],
}


def _ref(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
    }


def add_error_responses(result: dict, generator, request, public) -> dict:  # noqa: ARG001 - hook signature
    """drf-spectacular postprocessing hook: declare ``Error``/``ValidationError`` and use them."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR_SCHEMA)
    schemas.setdefault("ValidationError", VALIDATION_ERROR_SCHEMA)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            takes_input = "requestBody" in operation or any(
                parameter.get("in") == "query" for parameter in operation.get("parameters", [])
            )
            responses = operation["responses"]
            if takes_input:
                responses.setdefault("400", _ref("ValidationError", "Invalid input."))
            if any(parameter.get("in") == "path" for parameter in operation.get("parameters", [])):
                responses.setdefault("404", _ref("Error", "Not found (another tenant's object included)."))
            for code in ("404", "409", "422"):  # declared with a description only: the one error shape
                if code in responses and "content" not in responses[code]:
                    responses[code]["content"] = _ref("Error", "")["content"]
    return result


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "重试时使用同一个值（1–255 个可打印 ASCII 字符）：同一个键 + 相同请求体返回第一次的结果"
        "（响应头 Idempotent-Replayed: true），不会重复创建；同一个键 + 不同请求体返回 422"
        "（code = idempotency_key_reused）。键在租户内唯一，保留 72 小时。"
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}


class CrmAutoSchema(AutoSchema):
    """The default schema class: adds what the shared API base does for every view.

    * every create (``POST`` on a collection) takes ``Idempotency-Key`` and may answer 409/422;
    * every list of a synced model takes ``updated_since`` / ``created_since`` (crm/api/since.py).
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        from crm.api.since import schema_parameters
        from crm.api.viewsets import TenantViewSetMixin
        from crm.sync import sync_fields

        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None or not isinstance(self.view, TenantViewSetMixin):
            return operation
        action = getattr(self.view, "action", None)
        parameters = operation.setdefault("parameters", [])
        names = {(p.get("name"), p.get("in")) for p in parameters}
        if method == "POST" and action == "create":
            if ("Idempotency-Key", "header") not in names:
                parameters.append(IDEMPOTENCY_PARAMETER)
            responses = operation.setdefault("responses", {})
            responses.setdefault(
                "409", _ref("Error", "A request with the same Idempotency-Key is in progress.")
            )
            responses.setdefault(
                "422",
                _ref("Error", "Idempotency-Key already used with another request (idempotency_key_reused)."),
            )
        model = getattr(self.view, "model", None)
        if method == "GET" and action == "list" and model is not None and sync_fields(model) is not None:
            parameters.extend(p for p in schema_parameters() if (p["name"], "query") not in names)
        return operation
