"""Reads of the outbox: the tenant's event feed and the delivery log / dead letters."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from crm.events.models import DeliveryStatus, Event, EventDelivery
from crm.models import Tenant

FEED_MAX_LIMIT = 500


def events_after(
    *,
    tenant: Tenant,
    after: int = 0,
    limit: int = 100,
    types: list[str] | None = None,
    since: datetime | None = None,
) -> list[Event]:
    """The tenant's events with ``id > after`` in id order, safe to page through while writes go on.

    Ids are handed out when a row is inserted but become visible when its transaction commits, so
    a plain ``id > after`` can skip a row that commits late with a smaller id. A row is therefore
    withheld until every transaction older than the oldest still running one has finished
    (``txid_snapshot_xmin``): a client that stores the last id it saw never misses an event.
    The snapshot is cluster-wide, so an unrelated long transaction would stall the feed; the
    withholding is bounded by ``CRM_EVENT_FEED_MAX_WITHHOLD_SECONDS`` (a publishing transaction
    open longer than that could be skipped; keep it above your longest business transaction).
    """
    queryset = Event.objects.filter(tenant=tenant, id__gt=after)
    if since is not None:  # ?created_since= / ?updated_since=: where a first sync starts
        queryset = queryset.filter(created_at__gte=since)
    if types:
        queryset = queryset.filter(type__in=types)
    withhold = float(getattr(settings, "CRM_EVENT_FEED_MAX_WITHHOLD_SECONDS", 60))
    if connection.vendor == "postgresql" and withhold > 0:
        queryset = queryset.extra(  # noqa: S610 - constant SQL, no user input
            where=["(transaction_id < txid_snapshot_xmin(txid_current_snapshot()) OR created_at < %s)"],
            params=[timezone.now() - timedelta(seconds=withhold)],
        )
    return list(queryset.order_by("id")[: max(1, min(limit, FEED_MAX_LIMIT))])


def deliveries_for_log(*, tenant: Tenant, status: str | None = None, subscriber_prefix: str = "") -> QuerySet:
    queryset = EventDelivery.objects.filter(tenant=tenant).select_related("event")
    if status:
        queryset = queryset.filter(status=status)
    if subscriber_prefix:
        queryset = queryset.filter(subscriber__startswith=subscriber_prefix)
    return queryset.order_by("-id")


def dead_letter_count(*, tenant: Tenant) -> int:
    return EventDelivery.objects.filter(tenant=tenant, status=DeliveryStatus.DEAD).count()
