"""The idempotency store: claim a key, run the handler once, keep its response for replays.

Keys are unique per tenant (not per endpoint): a key reused on another endpoint or with another
body is the client's mistake and is answered 422 with ``code = "idempotency_key_reused"``, as
Stripe does. Only successful (2xx) responses are kept: an error rolls the claim back with the
request, so the client can fix its request and retry with the same key.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from crm.idempotency.models import IdempotencyKey
from crm.models import Tenant

if TYPE_CHECKING:
    from rest_framework.request import Request

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


def _ttl() -> datetime.timedelta:
    return datetime.timedelta(hours=getattr(settings, "IDEMPOTENCY_KEY_TTL_HOURS", 72))


def request_fingerprint(*, scope: str, data: object) -> str:
    """Same operation + same body (key order and whitespace don't matter) = same fingerprint."""
    canonical = json.dumps({"scope": scope, "data": data}, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _error(status_code: int, code: str, message: str) -> Response:
    return Response(
        {"detail": message, "code": code, "errors": {HEADER: [message]}, "codes": {HEADER: [code]}},
        status=status_code,
    )


def key_from(request: Request) -> str | None:
    value = request.META.get("HTTP_IDEMPOTENCY_KEY")
    return None if value is None else value.strip()


def _replay(record: IdempotencyKey) -> Response:
    response = Response(record.response_body, status=record.response_status)
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent_response(
    request: Request, *, tenant: Tenant, scope: str, handler: Callable[[], Response]
) -> Response:
    """Run ``handler`` once per (tenant, ``Idempotency-Key``); without the header just run it.

    Must run inside ``tenant_context(tenant)`` and the request's transaction: the claim row is
    written first, so a concurrent retry waits on the unique index until the first commits, then
    replays its response (or takes over the key if the first rolled back).
    """
    key = key_from(request)
    if key is None:
        return handler()
    if not key or len(key) > MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        return _error(
            400,
            "idempotency_key_invalid",
            _("Idempotency-Key 应为 1–255 个可打印 ASCII 字符。"),
        )
    fingerprint = request_fingerprint(scope=scope, data=request.data)
    IdempotencyKey.objects.filter(key=key, created_at__lt=timezone.now() - _ttl()).delete()
    try:
        with transaction.atomic():
            record = IdempotencyKey.objects.create(
                tenant=tenant, key=key, scope=scope, request_fingerprint=fingerprint
            )
    except IntegrityError:
        record = IdempotencyKey.objects.get(key=key)
        if record.request_fingerprint != fingerprint:
            return _error(
                422,
                "idempotency_key_reused",
                _("该 Idempotency-Key 已用于另一个请求；新的请求请使用新的 Idempotency-Key。"),
            )
        if not record.response_status:
            return _error(409, "idempotency_key_in_progress", _("相同 Idempotency-Key 的请求正在处理中。"))
        return _replay(record)
    response = handler()
    if 200 <= response.status_code < 300:
        record.response_status = response.status_code
        # As the client saw it (dates, decimals and lazy strings rendered), so a replay is identical.
        record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
        record.save(update_fields=["response_status", "response_body"])
    else:
        record.delete()
    return response


def idempotency_keys_prune(*, tenant: Tenant) -> int:
    """Forget keys older than ``IDEMPOTENCY_KEY_TTL_HOURS`` (nightly, per tenant)."""
    deleted, _rows = IdempotencyKey.objects.filter(
        tenant=tenant, created_at__lt=timezone.now() - _ttl()
    ).delete()
    return deleted
