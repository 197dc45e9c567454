"""Writes of integrations: webhook endpoints (create, edit, rotate the secret, delete, resend), the
auto-disable decision after sustained failure, and the group robot's event routing."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.events import dispatch
from crm.events.models import EventDelivery
from crm.events.types import EVENT_TYPES
from crm.models import Tenant
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant
from integrations import outbound
from integrations.models import RobotEventRoute, WebhookEndpoint

logger = logging.getLogger("crm.integrations")

SECRET_PREFIX = "whsec_"
MAX_ENDPOINTS_PER_TENANT = 20


def disable_after_failures() -> int:
    return int(getattr(settings, "CRM_WEBHOOK_DISABLE_AFTER_FAILURES", 20))


def disable_after() -> timedelta:
    """Failures must also span this long: a one-minute outage never switches an endpoint off."""
    return timedelta(seconds=float(getattr(settings, "CRM_WEBHOOK_DISABLE_AFTER_SECONDS", 24 * 3600)))


def new_secret() -> str:
    return f"{SECRET_PREFIX}{secrets.token_urlsafe(32)}"


def _clean_event_types(event_types: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(str(name) for name in event_types))
    unknown = [name for name in chosen if name not in EVENT_TYPES]
    if unknown:
        raise ValidationError(
            {
                "event_types": ValidationError(
                    _("未知的事件类型：%(types)s") % {"types": "、".join(unknown)}, code="unknown_event_type"
                )
            }
        )
    if not chosen:
        raise ValidationError(
            {"event_types": ValidationError(_("请至少选择一种事件类型。"), code="required")}
        )
    return chosen


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise ValidationError({"url": ValidationError(_("请填写接收地址。"), code="required")})
    if len(url) > 500:
        raise ValidationError({"url": ValidationError(_("接收地址过长。"), code="max_length")})
    try:
        outbound.check_url_syntax(url)
    except outbound.UnsafeTarget:
        raise ValidationError(
            {
                "url": ValidationError(
                    _("只允许 http:// 或 https:// 的公网地址（不能是内网、本机或元数据地址）。"),
                    code="unsafe_url",
                )
            }
        ) from None
    return url


@transaction.atomic
def webhook_endpoint_create(
    *, tenant: Tenant, url: str, event_types: Iterable[str], name: str = "", is_active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint; returns it with the plaintext secret, which is shown this once."""
    url = _clean_url(url)
    chosen = _clean_event_types(event_types)
    with dispatch.in_tenant(tenant):
        if WebhookEndpoint.objects.filter(tenant=tenant).count() >= MAX_ENDPOINTS_PER_TENANT:
            raise ValidationError(
                ValidationError(
                    _("最多可以配置 %(count)s 个接收地址。") % {"count": MAX_ENDPOINTS_PER_TENANT},
                    code="too_many_endpoints",
                )
            )
        secret = new_secret()
        endpoint = WebhookEndpoint.objects.create(
            tenant=tenant,
            name=name.strip()[:100],
            url=url,
            secret=secret,
            event_types=chosen,
            is_active=is_active,
        )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    tenant: Tenant,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    name: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what is given; switching an endpoint back on clears its failure record."""
    with dispatch.in_tenant(tenant):
        endpoint = WebhookEndpoint.objects.select_for_update().get(tenant=tenant, pk=endpoint.pk)
        if url is not None:
            endpoint.url = _clean_url(url)
        if event_types is not None:
            endpoint.event_types = _clean_event_types(event_types)
        if name is not None:
            endpoint.name = name.strip()[:100]
        if is_active is not None:
            if is_active and not endpoint.is_active:
                endpoint.consecutive_failures = 0
                endpoint.failing_since = None
                endpoint.disabled_at = None
                endpoint.disabled_reason = ""
            endpoint.is_active = is_active
        endpoint.save()
    return endpoint


@transaction.atomic
def webhook_endpoint_rotate_secret(
    *, tenant: Tenant, endpoint: WebhookEndpoint
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs every send from now on (retries included); shown once."""
    with dispatch.in_tenant(tenant):
        endpoint = WebhookEndpoint.objects.select_for_update().get(tenant=tenant, pk=endpoint.pk)
        secret = new_secret()
        endpoint.secret = secret
        endpoint.secret_rotated_at = timezone.now()
        endpoint.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_delete(*, tenant: Tenant, endpoint: WebhookEndpoint) -> None:
    """Deliveries already written stay in the log; unsent ones end as dead letters (no endpoint)."""
    with dispatch.in_tenant(tenant):
        WebhookEndpoint.objects.filter(tenant=tenant, pk=endpoint.pk).delete()


def webhook_delivery_resend(*, tenant: Tenant, endpoint: WebhookEndpoint, delivery_id: int) -> int:
    """Send one delivery of this endpoint again now (a fresh set of attempts); 0 if not its delivery."""
    with dispatch.in_tenant(tenant):
        belongs = EventDelivery.objects.filter(
            tenant=tenant, pk=delivery_id, subscriber=endpoint.subscriber_key
        ).exists()
    if not belongs:
        return 0
    return dispatch.deliveries_retry(tenant=tenant, delivery_ids=[delivery_id])


def webhook_failures_record(
    *, tenant: Tenant, endpoint_outcomes: dict[int, list[bool]], now: datetime | None = None
) -> list[WebhookEndpoint]:
    """Count consecutive failures per endpoint (called in the dispatcher's outcome transaction).

    An endpoint that failed ``CRM_WEBHOOK_DISABLE_AFTER_FAILURES`` times in a row over at least
    ``CRM_WEBHOOK_DISABLE_AFTER_SECONDS`` is switched off and the managers are notified once.
    Returns the endpoints disabled now.
    """
    now = now or timezone.now()
    disabled: list[WebhookEndpoint] = []
    all_ok = [pk for pk, outcomes in endpoint_outcomes.items() if all(outcomes)]
    with dispatch.in_tenant(tenant):
        if all_ok:  # the common case: one UPDATE, and only for an endpoint that was failing
            WebhookEndpoint.objects.filter(tenant=tenant, pk__in=all_ok, consecutive_failures__gt=0).update(
                consecutive_failures=0, failing_since=None, updated_at=now
            )
        failed = [pk for pk in endpoint_outcomes if pk not in all_ok]
        if not failed:
            return disabled
        endpoints = WebhookEndpoint.objects.select_for_update().filter(tenant=tenant, pk__in=failed)
        for endpoint in endpoints.order_by("pk"):
            for ok in endpoint_outcomes[endpoint.pk]:
                if ok:
                    endpoint.consecutive_failures = 0
                    endpoint.failing_since = None
                else:
                    endpoint.consecutive_failures += 1
                    endpoint.failing_since = endpoint.failing_since or now
            sustained = (
                endpoint.is_active
                and endpoint.consecutive_failures >= disable_after_failures()
                and endpoint.failing_since is not None
                and now - endpoint.failing_since >= disable_after()
            )
            if sustained:
                endpoint.is_active = False
                endpoint.disabled_at = now
                endpoint.disabled_reason = _("连续失败 %(count)s 次，已自动停用。") % {
                    "count": endpoint.consecutive_failures
                }
                disabled.append(endpoint)
            endpoint.save(
                update_fields=[
                    "consecutive_failures",
                    "failing_since",
                    "is_active",
                    "disabled_at",
                    "disabled_reason",
                    "updated_at",
                ]
            )
        for endpoint in disabled:
            _notify_disabled(tenant=tenant, endpoint=endpoint)
    return disabled


def _notify_disabled(*, tenant: Tenant, endpoint: WebhookEndpoint) -> None:
    from crm.notifications.services import notify

    logger.warning(
        "webhook endpoint %s of tenant %s disabled after sustained failure", endpoint.pk, tenant.pk
    )
    notify(
        tenant=tenant,
        recipients=staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS),
        kind="webhook.disabled",
        title=_("Webhook 已自动停用：%(name)s") % {"name": str(endpoint)[:100]},
        body=_(
            "接收地址 %(url)s 连续 %(count)s 次投递失败，已停止推送。修复后请重新启用，并重新投递失败的事件。"
        )
        % {"url": endpoint.url, "count": endpoint.consecutive_failures},
        link=reverse("integrations:webhook-detail", args=[endpoint.pk]),
        dedupe_key=f"webhook-disabled:{endpoint.pk}:{endpoint.disabled_at or ''}",
    )


# --- group robot routing ------------------------------------------------------------------------


@transaction.atomic
def robot_event_route_get(*, tenant: Tenant) -> RobotEventRoute:
    with dispatch.in_tenant(tenant):
        route, _created = RobotEventRoute.objects.get_or_create(tenant=tenant)
        return route


@transaction.atomic
def robot_event_route_update(*, tenant: Tenant, event_types: Iterable[str]) -> RobotEventRoute:
    """Which event types also go to the tenant's WeChat Work / DingTalk robot (empty: none)."""
    chosen = list(dict.fromkeys(str(name) for name in event_types))
    if chosen:
        chosen = _clean_event_types(chosen)
    route = robot_event_route_get(tenant=tenant)
    with dispatch.in_tenant(tenant):
        route.event_types = chosen
        route.save()
    return route
