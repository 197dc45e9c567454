"""Replay outbox deliveries: dead letters (default), or chosen deliveries / events, for one tenant."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from crm.events import dispatch
from crm.events.models import DeliveryStatus, EventDelivery
from crm.models import Tenant
from crm.tenancy import tenant_context


class Command(BaseCommand):
    help = "Make outbox deliveries due again with fresh attempts (default: the tenant's dead letters)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument(
            "--delivery", type=int, action="append", default=[], help="delivery id (repeatable)"
        )
        parser.add_argument("--event", type=int, action="append", default=[], help="event id (repeatable)")
        parser.add_argument("--status", choices=DeliveryStatus.values, default=None)
        parser.add_argument("--subscriber", default="", help="only subscribers starting with this")
        parser.add_argument("--now", action="store_true", help="dispatch here instead of queueing a worker")

    def handle(self, *args, **options) -> None:
        tenant = Tenant.objects.filter(slug=options["tenant"]).first()
        if tenant is None:
            raise CommandError(f"no tenant {options['tenant']!r}")
        status = options["status"]
        if status is None and not options["delivery"] and not options["event"]:
            status = DeliveryStatus.DEAD
        with tenant_context(tenant):
            queryset = EventDelivery.objects.filter(tenant=tenant)
            if options["delivery"]:
                queryset = queryset.filter(pk__in=options["delivery"])
            if options["event"]:
                queryset = queryset.filter(event_id__in=options["event"])
            if options["subscriber"]:
                queryset = queryset.filter(subscriber__startswith=options["subscriber"])
            ids = list(queryset.values_list("pk", flat=True))
            count = dispatch.deliveries_retry(tenant=tenant, delivery_ids=ids, status=status) if ids else 0
        self.stdout.write(f"{count} deliveries made due again")
        if options["now"] and count:
            done = dispatch.deliveries_dispatch(tenant=tenant)
            self.stdout.write(f"{done} deliveries attempted")
