"""Pluggable SMS backends, chosen by the ``CRM_SMS_BACKEND`` setting (a dotted path).

A backend is a class with ``send(*, phone, message, idempotency_key) -> str`` returning the
provider's message id and raising :class:`SmsSendError` (or any exception) when the provider
refuses; the caller records the attempt and retries with back-off. ``idempotency_key`` is stable
for one SMS row across retries: pass it to the provider (Aliyun ``OutId``, Tencent ``SessionContext``)
so a send repeated after a crash can be recognised. Older backends without the argument still work.
"""

from __future__ import annotations

import inspect
import logging
import re
import uuid
from collections import deque
from typing import Any, ClassVar, Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("crm.notifications.sms")

DEFAULT_SMS_BACKEND = "crm.notifications.sms.LoggingSmsBackend"


class SmsSendError(Exception):
    """The provider refused or could not be reached."""


class SmsBackend(Protocol):
    def send(self, *, phone: str, message: str) -> str: ...


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else "****"


def display_sms_text(sms) -> str:
    """The text staff may read: secrets masked at send time; rows from before that mask every
    run of 4+ digits (a verification code could be among them)."""
    if sms.display_message:
        return sms.display_message
    return re.sub(r"\d{4,}", lambda match: "*" * len(match.group()), sms.message)


class LoggingSmsBackend:
    """Development default: logs (phone masked, PIPL) and keeps the last messages in memory."""

    outbox: ClassVar[deque[dict]] = deque(maxlen=200)

    def send(self, *, phone: str, message: str, idempotency_key: str = "") -> str:
        message_id = f"log-{uuid.uuid4().hex[:12]}"
        logger.info("SMS to %s (%s): %s", mask_phone(phone), message_id, message)
        self.outbox.append(
            {"phone": phone, "message": message, "id": message_id, "idempotency_key": idempotency_key}
        )
        return message_id


def accepts_idempotency_key(backend: Any) -> bool:
    try:
        return "idempotency_key" in inspect.signature(backend.send).parameters
    except (TypeError, ValueError):
        return False


def backend_path() -> str:
    return getattr(settings, "CRM_SMS_BACKEND", "") or DEFAULT_SMS_BACKEND


def get_sms_backend() -> SmsBackend:
    return import_string(backend_path())()
