"""One error shape for every API 4xx: ``{"detail": ..., "errors": {field: [messages]}}``."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm.tenancy import TenantNotSetError

INVALID_INPUT = gettext_lazy("提交的数据有误。")


def _as_lists(data) -> dict:
    if isinstance(data, dict):
        return {key: (value if isinstance(value, list | dict) else [value]) for key, value in data.items()}
    if isinstance(data, list):
        return {"non_field_errors": data}
    return {"non_field_errors": [data]}


def django_validation_error_to_drf(error: DjangoValidationError) -> exceptions.ValidationError:
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(
            {("non_field_errors" if k == "__all__" else k): v for k, v in error.message_dict.items()}
        )
    return exceptions.ValidationError({"non_field_errors": error.messages})


def api_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = django_validation_error_to_drf(exc)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound(_("未找到。"))
    elif isinstance(exc, TenantNotSetError):
        exc = exceptions.NotAuthenticated()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {"detail": INVALID_INPUT, "errors": _as_lists(exc.detail)}
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        response.data = {"detail": detail, "errors": {}}
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)
    return response


def api_not_found(request, *args, **kwargs):
    """Unknown route under /api/: JSON 404 in the one error shape (even with DEBUG on)."""
    return JsonResponse({"detail": _("接口不存在。"), "errors": {}}, status=status.HTTP_404_NOT_FOUND)


def error_response(detail: str, errors: dict | None = None, status_code: int = 400) -> Response:
    return Response({"detail": detail, "errors": errors or {}}, status=status_code)
