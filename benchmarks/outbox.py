"""Benchmark: publish N events across T tenants and deliver each to a local HTTP receiver.

    DATABASE_URL=postgres://crm:crm@127.0.0.1:5432/bench_crm \\
        .venv/bin/python benchmarks/outbox.py --events 10000 --tenants 100 --dispatchers 2

One publisher thread writes events (one transaction per event, as services do) while dispatcher
threads run the real dispatcher (:func:`crm.events.dispatch.deliveries_dispatch`: SKIP LOCKED
claim, ``sending`` committed before the call, outcome recorded after) over the tenants, sending
through an external transport that POSTs to a ThreadingHTTPServer on 127.0.0.1. With ``--signed``
the transport is the real webhook one (``integrations``: one endpoint per tenant, body signed with
HMAC-SHA256, SSRF check and pinned connection; the receiver verifies every signature).
Prints events/s, the dispatcher's SQL queries per event and the end-to-end delay
(commit of the event → receipt) p50/p95. Uses tenants ``bench-outbox-*``, deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from crm import events  # noqa: E402
from crm.events import dispatch, registry  # noqa: E402
from crm.events.models import Event, EventDelivery  # noqa: E402
from crm.models import Tenant  # noqa: E402
from crm.tenancy import platform_scope, tenant_context  # noqa: E402
from integrations import signing  # noqa: E402
from integrations.models import WebhookEndpoint  # noqa: E402
from integrations.services import webhook_endpoint_create  # noqa: E402

received: dict[str, float] = {}
secrets_by_tenant: dict[str, str] = {}
bad_signatures = [0]
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        body = json.loads(raw)
        if "X-CRM-Signature" in self.headers:
            expected = signing.signature(
                secret=secrets_by_tenant[body["tenant"]], timestamp=self.headers["X-CRM-Timestamp"], body=raw
            )
            if expected != self.headers["X-CRM-Signature"]:
                with lock:
                    bad_signatures[0] += 1
        with lock:
            received.setdefault(body.get("event_id") or body["id"], time.time())
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


class BenchTransport:
    prefix = "bench"

    def __init__(self, url: str) -> None:
        self.url = url

    def subscribers(self, *, tenant, event_type):
        return ["bench:receiver"]

    def send(self, *, tenant, deliveries):
        outcomes = {}
        for delivery in deliveries:
            body = json.dumps({"event_id": str(delivery.event.event_id), "payload": delivery.event.payload})
            request = urllib.request.Request(self.url, data=body.encode(), method="POST")
            started = time.monotonic()
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                code = response.status
            outcomes[delivery.pk] = registry.SendOutcome(
                ok=True, response_code=code, duration_ms=int((time.monotonic() - started) * 1000)
            )
        return outcomes

    def after(self, *, tenant, results):
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--signed", action="store_true", help="real signed webhook transport")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    if args.signed:
        from django.conf import settings

        settings.CRM_WEBHOOK_ALLOW_LOOPBACK = True  # the receiver is local
    else:
        registry.register_transport(BenchTransport(url))
    dispatch.enqueue = lambda *a, **k: None  # the dispatcher threads below play the workers

    _cleanup()
    tenants = [
        Tenant.objects.create(name=f"bench {n}", slug=f"bench-outbox-{n}") for n in range(args.tenants)
    ]
    if args.signed:
        for tenant in tenants:
            with tenant_context(tenant):
                _endpoint, secret = webhook_endpoint_create(
                    tenant=tenant, url=url, event_types=[events.EventType.CUSTOMER_CREATED]
                )
            secrets_by_tenant[tenant.slug] = secret
    created: dict[str, float] = {}
    publishing = threading.Event()
    publishing.set()
    queries = [0]

    def count(execute, sql, params, many, context):
        with lock:
            queries[0] += 1
        return execute(sql, params, many, context)

    def publisher() -> None:
        for number in range(args.events):
            tenant = tenants[number % len(tenants)]
            with tenant_context(tenant):
                event = events.publish(events.EventType.CUSTOMER_CREATED, tenant=tenant, customer_id=number)
            created[str(event.event_id)] = time.time()
        publishing.clear()
        connection.close()

    def dispatcher() -> None:
        with connection.execute_wrapper(count):
            while publishing.is_set() or len(received) < args.events:
                for tenant in tenants:
                    dispatch.deliveries_dispatch(tenant=tenant, batch_size=50)
        connection.close()

    started = time.monotonic()
    threads = [threading.Thread(target=publisher)]
    threads += [threading.Thread(target=dispatcher) for _ in range(args.dispatchers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    delays = sorted(received[key] - created[key] for key in created if key in received)
    with tenant_context(tenants[0]):
        delivered_0 = EventDelivery.objects.filter(status="delivered").count()
    print(
        f"events: {args.events} across {args.tenants} tenants, dispatchers: {args.dispatchers}, "
        f"signed webhooks: {args.signed} (bad signatures: {bad_signatures[0]})"
    )
    print(f"delivered: {len(received)} (tenant 0 delivery rows delivered: {delivered_0})")
    print(f"throughput: {len(received) / elapsed:.0f} events/s end to end ({elapsed:.1f} s)")
    print(f"dispatcher SQL queries per event: {queries[0] / max(len(received), 1):.2f} (incl. idle polling)")
    print(
        f"end-to-end delay: p50 {statistics.median(delays) * 1000:.0f} ms, "
        f"p95 {delays[int(len(delays) * 0.95) - 1] * 1000:.0f} ms"
    )
    server.shutdown()
    _cleanup()


def _cleanup() -> None:
    """Raw deletes inside a platform scope (the tenant-owned rows are behind RLS)."""
    with platform_scope("benchmark cleanup"):
        old = Tenant.objects.filter(slug__startswith="bench-outbox-")
        EventDelivery.objects.filter(tenant__in=old)._raw_delete(connection.alias)
        WebhookEndpoint.objects.filter(tenant__in=old)._raw_delete(connection.alias)
        Event.objects.filter(tenant__in=old)._raw_delete(connection.alias)
        old._raw_delete(connection.alias)


if __name__ == "__main__":
    main()
