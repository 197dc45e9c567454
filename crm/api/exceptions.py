"""One error shape for every API 4xx: ``{"detail": ..., "errors": {field: [messages]}}``.

A 400 for invalid input also carries ``codes``: the same fields, each with its list of stable,
machine-readable codes (``invalid_phone``, ``required``, …) in the order of the messages, so
clients branch on codes and show the (translated) messages. A service error without a code is
``"invalid"``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from crm.tenancy import TenantNotSetError

INVALID_INPUT = gettext_lazy("提交的数据有误。")
DEFAULT_CODE = "invalid"


def _as_lists(data) -> dict:
    if isinstance(data, dict):
        return {key: (value if isinstance(value, list | dict) else [value]) for key, value in data.items()}
    if isinstance(data, list):
        return {"non_field_errors": data}
    return {"non_field_errors": [data]}


def _details(errors: list[DjangoValidationError]) -> list[ErrorDetail]:
    """Messages (params applied) with their codes; a service error without one is ``invalid``."""
    return [
        ErrorDetail(message, code=error.code or DEFAULT_CODE)
        for error in errors
        for message in error.messages
    ]


def django_validation_error_to_drf(error: DjangoValidationError) -> exceptions.ValidationError:
    """Keep each message's ``code`` (``message_dict`` would drop it)."""
    if hasattr(error, "error_dict"):
        return exceptions.ValidationError(
            {("non_field_errors" if k == "__all__" else k): _details(v) for k, v in error.error_dict.items()}
        )
    return exceptions.ValidationError({"non_field_errors": _details(error.error_list)})


def validation_error_body(error: exceptions.ValidationError | DjangoValidationError) -> dict:
    """The 400 body: ``detail``, ``errors`` (field -> messages) and ``codes`` (field -> codes)."""
    if isinstance(error, DjangoValidationError):
        error = django_validation_error_to_drf(error)
    return {"detail": INVALID_INPUT, "errors": _as_lists(error.detail), "codes": _as_lists(error.get_codes())}


def validation_error_response(error: exceptions.ValidationError | DjangoValidationError) -> Response:
    """A 400 answered by the view itself (no rollback of the request's transaction)."""
    return Response(validation_error_body(error), status=status.HTTP_400_BAD_REQUEST)


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
        response.data = validation_error_body(exc)
    else:
        detail = response.data.get("detail") if isinstance(response.data, dict) else response.data
        response.data = {"detail": detail, "errors": {}}
        if response.status_code == status.HTTP_400_BAD_REQUEST:
            response.data["codes"] = {}  # a malformed body (ParseError): the 400 shape the schema promises
    if transaction.get_connection().in_atomic_block:
        transaction.set_rollback(True)
    return response


def api_not_found(request, *args, **kwargs):  # noqa: ARG001 - signature required by the caller (Django/DRF/django-filter)
    """Unknown route under /api/: JSON 404 in the one error shape (even with DEBUG on)."""
    return JsonResponse({"detail": _("接口不存在。"), "errors": {}}, status=status.HTTP_404_NOT_FOUND)


def error_response(detail: str, errors: dict | None = None, status_code: int = 400) -> Response:
    body: dict = {"detail": detail, "errors": errors or {}}
    if status_code == status.HTTP_400_BAD_REQUEST:
        body["codes"] = {
            field: [DEFAULT_CODE] * (len(messages) if isinstance(messages, list) else 1)
            for field, messages in body["errors"].items()
        }
    return Response(body, status=status_code)
