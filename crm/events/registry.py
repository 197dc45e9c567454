"""Who receives which event: in-process handlers and external transports (webhooks, robots).

Handlers subscribe by event type in ``AppConfig.ready()``; their subscriber key is their dotted
path, so a delivery row written today still finds its handler after a restart. External
transports (e.g. ``integrations`` webhooks) register a prefix, a fan-out function that names the
tenant's subscribers of a type at publish time, and a batch sender.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from crm.events.models import EventDelivery
    from crm.models import Tenant

Handler = Callable[..., None]
HANDLER_PREFIX = "handler"

_handlers: dict[str, list[Handler]] = defaultdict(list)
_handlers_by_key: dict[tuple[str, str], Handler] = {}  # (event type, key)


def handler_key(handler: Handler) -> str:
    return f"{HANDLER_PREFIX}:{handler.__module__}.{handler.__qualname__}"


def subscribe(event_type: str, handler: Handler) -> None:
    """Run ``handler(tenant=..., **payload)`` once per ``event_type`` event, in its tenant."""
    from crm.events.types import EVENT_TYPES

    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    if handler not in _handlers[event_type]:
        _handlers[event_type].append(handler)
    _handlers_by_key[(event_type, handler_key(handler))] = handler


def unsubscribe(event_type: str, handler: Handler) -> None:
    """Tests only: remove a subscription (delivery rows already written stay, and go dead)."""
    if handler in _handlers[event_type]:
        _handlers[event_type].remove(handler)
    if _handlers_by_key.get((event_type, handler_key(handler))) is handler:
        del _handlers_by_key[(event_type, handler_key(handler))]


def handlers_for(event_type: str) -> list[Handler]:
    return list(_handlers[event_type])


@dataclass
class SendOutcome:
    """What one external send did; ``permanent`` failures are not retried."""

    ok: bool
    response_code: int | None = None
    duration_ms: int | None = None
    error: str = ""
    permanent: bool = False


class Transport(Protocol):
    prefix: str

    def subscribers(self, *, tenant: Tenant, event_type: str) -> list[str]:
        """Subscriber keys (``<prefix>:<id>``) of ``tenant`` for ``event_type``; runs at publish time."""

    def send(self, *, tenant: Tenant, deliveries: list[EventDelivery]) -> dict[int, SendOutcome]:
        """Send outside any transaction; must not raise. Keyed by delivery id."""

    def after(self, *, tenant: Tenant, results: list[tuple[EventDelivery, SendOutcome]]) -> None:
        """Bookkeeping inside the transaction that records the outcomes (failure counters …)."""


_transports: dict[str, Any] = {}


def register_transport(transport: Transport) -> None:
    _transports[transport.prefix] = transport


def transports() -> list[Any]:
    return list(_transports.values())


def resolve(subscriber: str, event_type: str) -> tuple[str, Any] | None:
    """``("handler", fn)`` or ``("transport", transport)``; None for a subscriber that is gone."""
    prefix = subscriber.split(":", 1)[0]
    if prefix == HANDLER_PREFIX:
        handler = _handlers_by_key.get((event_type, subscriber))
        return ("handler", handler) if handler is not None else None
    transport = _transports.get(prefix)
    return ("transport", transport) if transport is not None else None
