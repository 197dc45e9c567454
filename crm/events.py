"""Domain events: an app announces what happened; apps that care subscribe in ``AppConfig.ready()``.

Handlers run **after the announcing transaction commits**, each in its own tenant transaction,
so a subscriber never sees (or acts on) a write that was rolled back. Handlers must be idempotent
(a replayed event must not act twice); a failing handler is logged and does not stop the others.

Events in use (payload keys):
- ``contract_signed``: ``project_id``, ``customer_id``
- ``project_handed_over``: ``project_id``, ``customer_id``
- ``contract_cancelled``: ``project_id``, ``customer_id``
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from functools import partial

from django.db import transaction

from crm.tenancy import tenant_context

logger = logging.getLogger("crm.events")

Handler = Callable[..., None]
_handlers: dict[str, list[Handler]] = defaultdict(list)


def subscribe(event: str, handler: Handler) -> None:
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def handlers_for(event: str) -> list[Handler]:
    return list(_handlers[event])


def run_handler(handler: Handler, tenant, payload: dict) -> None:
    try:
        with tenant_context(tenant):
            handler(tenant=tenant, **payload)
    except Exception:
        logger.exception("event handler %s failed", getattr(handler, "__qualname__", handler))


def publish(event: str, *, tenant, **payload) -> None:
    """Announce ``event`` for ``tenant``; subscribers run after the current transaction commits."""
    for handler in handlers_for(event):
        transaction.on_commit(partial(run_handler, handler, tenant, payload))
