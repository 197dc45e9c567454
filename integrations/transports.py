"""Outbox transports (crm.events.registry): signed webhooks and the tenant's group robot.

Each names its subscribers when an event is published (``webhook:<endpoint id>``, ``robot:<id>``)
and sends claimed deliveries outside any transaction (the dispatcher committed ``sending``
first). ``batch_size`` keeps one tenant's slow receiver from holding a worker: the dispatcher
hands a transport at most that many deliveries per claim and re-queues the tenant for the rest.
"""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.utils.translation import gettext as _

from crm.events.models import EventDelivery
from crm.events.registry import SendOutcome
from crm.models import Tenant
from crm.tenancy import tenant_context
from integrations import outbound, selectors, services, signing
from integrations.models import ROBOT_PREFIX, WEBHOOK_PREFIX, WebhookEndpoint

logger = logging.getLogger("crm.integrations")


def _subscriber_id(delivery: EventDelivery) -> int | None:
    _prefix, _sep, raw = delivery.subscriber.partition(":")
    return int(raw) if raw.isdigit() else None


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


class WebhookTransport:
    prefix = WEBHOOK_PREFIX

    @property
    def batch_size(self) -> int:
        return int(getattr(settings, "CRM_WEBHOOK_BATCH_SIZE", 10))

    def subscribers(self, *, tenant: Tenant, event_type: str) -> list[str]:
        return [
            endpoint.subscriber_key
            for endpoint in selectors.endpoints_subscribed(tenant=tenant, event_type=event_type)
        ]

    def send(self, *, tenant: Tenant, deliveries: list[EventDelivery]) -> dict[int, SendOutcome]:
        ids = {pk for pk in map(_subscriber_id, deliveries) if pk is not None}
        with tenant_context(tenant):
            endpoints = {
                endpoint.pk: endpoint
                for endpoint in WebhookEndpoint.objects.filter(tenant=tenant, pk__in=ids)
            }
        outcomes = {}
        for delivery in deliveries:
            endpoint = endpoints.get(_subscriber_id(delivery) or 0)
            if endpoint is None:
                outcomes[delivery.pk] = SendOutcome(ok=False, error="endpoint deleted", permanent=True)
            elif not endpoint.is_active:
                outcomes[delivery.pk] = SendOutcome(ok=False, error="endpoint disabled", permanent=True)
            else:
                outcomes[delivery.pk] = self.send_one(tenant=tenant, endpoint=endpoint, delivery=delivery)
        return outcomes

    def send_one(self, *, tenant: Tenant, endpoint: WebhookEndpoint, delivery: EventDelivery) -> SendOutcome:
        """One signed POST; 2xx is success, anything else (or no answer in time) is retried."""
        body = signing.webhook_body(tenant=tenant, event=delivery.event)
        timestamp = str(int(time.time()))
        headers = signing.signed_headers(
            secret=endpoint.secret, event=delivery.event, timestamp=timestamp, body=body
        )
        headers["X-CRM-Delivery-Attempt"] = str(delivery.attempts)
        started = time.monotonic()
        try:
            result = outbound.post(endpoint.url, body=body, headers=headers)
        except outbound.UnsafeTarget as error:
            return SendOutcome(
                ok=False, error=f"refused: {error}", permanent=True, duration_ms=_elapsed_ms(started)
            )
        except (OSError, ValueError) as error:  # timeouts, refused connections, TLS, bad answers
            return SendOutcome(
                ok=False, error=f"{type(error).__name__}: {error}", duration_ms=_elapsed_ms(started)
            )
        except Exception as error:  # noqa: BLE001 - send() must not raise
            logger.exception("webhook send to endpoint %s failed", endpoint.pk)
            return SendOutcome(
                ok=False, error=f"{type(error).__name__}: {error}", duration_ms=_elapsed_ms(started)
            )
        if 200 <= result.status < 300:
            return SendOutcome(ok=True, response_code=result.status, duration_ms=result.duration_ms)
        return SendOutcome(
            ok=False,
            response_code=result.status,
            duration_ms=result.duration_ms,
            error=f"HTTP {result.status}: {result.body_snippet[:200]}",
        )

    def after(self, *, tenant: Tenant, results: list[tuple[EventDelivery, SendOutcome]]) -> None:
        endpoint_outcomes: dict[int, list[bool]] = {}
        for delivery, outcome in results:
            endpoint_id = _subscriber_id(delivery)
            if endpoint_id is not None and outcome.error not in ("endpoint deleted", "endpoint disabled"):
                endpoint_outcomes.setdefault(endpoint_id, []).append(outcome.ok)
        if endpoint_outcomes:
            services.webhook_failures_record(tenant=tenant, endpoint_outcomes=endpoint_outcomes)


class RobotTransport:
    """Routes chosen event types to the tenant's WeChat Work / DingTalk group robot."""

    prefix = ROBOT_PREFIX

    @property
    def batch_size(self) -> int:
        return int(getattr(settings, "CRM_WEBHOOK_BATCH_SIZE", 10))

    def subscribers(self, *, tenant: Tenant, event_type: str) -> list[str]:
        robot = selectors.robot_for_event(tenant=tenant, event_type=event_type)
        return [f"{ROBOT_PREFIX}:{robot.pk}"] if robot is not None else []

    def send(self, *, tenant: Tenant, deliveries: list[EventDelivery]) -> dict[int, SendOutcome]:
        from crm.notifications import senders
        from crm.notifications.models import Notification, NotificationSettings

        with tenant_context(tenant):
            robot = NotificationSettings.objects.filter(tenant=tenant).first()
        outcomes = {}
        for delivery in deliveries:
            if robot is None or not robot.robot_active:
                outcomes[delivery.pk] = SendOutcome(
                    ok=False, error="group robot not configured", permanent=True
                )
                continue
            event = delivery.event
            message = Notification(  # unsaved: only the text the robot shows
                title=_("[%(tenant)s] 业务事件 %(type)s") % {"tenant": tenant.name, "type": event.type},
                body="\n".join(f"- {key}: {value}" for key, value in event.payload.items()),
                link="",
            )
            started = time.monotonic()
            try:
                senders.post_to_robot(robot=robot, notification=message)
            except senders.PermanentSendError as error:
                outcomes[delivery.pk] = SendOutcome(ok=False, error=str(error), permanent=True)
            except Exception as error:  # noqa: BLE001 - send() must not raise
                outcomes[delivery.pk] = SendOutcome(
                    ok=False, error=f"{type(error).__name__}: {error}", duration_ms=_elapsed_ms(started)
                )
            else:
                outcomes[delivery.pk] = SendOutcome(
                    ok=True, response_code=200, duration_ms=_elapsed_ms(started)
                )
        return outcomes

    def after(self, *, tenant: Tenant, results: list[tuple[EventDelivery, SendOutcome]]) -> None:
        pass
