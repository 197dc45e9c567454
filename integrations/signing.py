"""The webhook wire format and its signature (a public contract: documented in README and the API docs).

    X-CRM-Signature: sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>

``timestamp`` is the ``X-CRM-Timestamp`` header (Unix seconds), ``body`` the raw request body.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from django.core.serializers.json import DjangoJSONEncoder

from crm.events.models import Event
from crm.models import Tenant

SIGNATURE_HEADER = "X-CRM-Signature"
TIMESTAMP_HEADER = "X-CRM-Timestamp"
EVENT_ID_HEADER = "X-CRM-Event-Id"
EVENT_TYPE_HEADER = "X-CRM-Event-Type"
USER_AGENT = "Jiazhuang-CRM-Webhooks/1"


def webhook_body(*, tenant: Tenant, event: Event) -> bytes:
    """``{id, type, created_at, tenant, data}``; ``id`` is the event id receivers de-duplicate on."""
    document = {
        "id": str(event.event_id),
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "tenant": tenant.slug,
        "data": event.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()


def signature(*, secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(*, secret: str, event: Event, timestamp: str, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: str(event.event_id),
        EVENT_TYPE_HEADER: event.type,
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret=secret, timestamp=timestamp, body=body),
    }


VERIFY_SNIPPET = '''import hashlib, hmac, time

def verify(secret: str, headers: dict, body: bytes, tolerance: int = 300) -> bool:
    """body: the raw request body bytes, exactly as received."""
    timestamp = headers["X-CRM-Timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False  # too old: a replay
    expected = "sha256=" + hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, headers["X-CRM-Signature"])
'''
