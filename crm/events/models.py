"""The outbox: one row per domain event, one row per (event, subscriber) delivery.

The event row is inserted in the same transaction as the change it announces, so a rolled-back
change leaves no event and a committed one always has one. Each delivery row is unique per
(event, subscriber); the dispatcher claims rows with ``SKIP LOCKED``, so two workers split the
work and a subscriber sees an event once (internal handlers commit their effect together with
``delivered``; external sends are at-least-once, see ``DeliveryStatus.SENDING``).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class Event(TenantOwnedModel):
    """A domain event; ``id`` orders the tenant's feed, ``event_id`` is what receivers de-duplicate on."""

    api_sync_fields = ("created_at", "created_at")  # append-only: never updated (crm/sync.py)
    event_id = models.UUIDField(_("事件编号"), default=uuid.uuid4, editable=False)
    type = models.CharField(_("事件类型"), max_length=64)
    aggregate_type = models.CharField(_("对象类型"), max_length=32)
    aggregate_id = models.BigIntegerField(_("对象编号"), null=True)
    payload = models.JSONField(_("内容"), default=dict)
    created_at = models.DateTimeField(_("发生时间"), default=timezone.now)
    # PostgreSQL's 64-bit id of the inserting transaction: the feed withholds a row until every
    # transaction that could still commit a smaller id has finished (see selectors.events_after).
    transaction_id = models.BigIntegerField(null=True, editable=False)

    class Meta:
        verbose_name = _("领域事件")
        verbose_name_plural = _("领域事件")
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="outbox_event_id_once")]
        indexes = [models.Index(fields=["tenant", "type", "id"], name="outbox_event_type_idx")]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("待投递")
    SENDING = "sending", _("投递中")
    DELIVERED = "delivered", _("已投递")
    DEAD = "dead", _("失败（死信）")


class EventDelivery(TenantOwnedModel):
    """One event handed to one subscriber (``handler:<dotted path>`` or ``webhook:<endpoint id>``).

    ``next_attempt_at`` is when the row is due: for ``pending`` the next try, for ``sending`` the
    end of the lease after which a crashed send is tried again.
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.CharField(_("订阅者"), max_length=200)
    status = models.CharField(
        _("状态"), max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, default=timezone.now)
    last_attempt_at = models.DateTimeField(_("最近尝试"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("投递时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    response_code = models.PositiveSmallIntegerField(_("响应码"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("耗时（毫秒）"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("事件投递")
        verbose_name_plural = _("事件投递")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "event", "subscriber"], name="outbox_delivery_once"),
        ]
        indexes = [
            # the per-tenant claim; the sweeper's cross-tenant scan reads the same (small) partial index
            models.Index(
                fields=["tenant", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="outbox_delivery_tdue_idx",
            ),
            models.Index(fields=["tenant", "status", "-id"], name="outbox_delivery_status_idx"),
            models.Index(fields=["tenant", "subscriber", "-id"], name="outbox_delivery_sub_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} ← {self.event_id}"
