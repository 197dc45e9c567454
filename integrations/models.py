"""Where a tenant's domain events go besides the in-process handlers: webhook endpoints, robots."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel

WEBHOOK_PREFIX = "webhook"
ROBOT_PREFIX = "robot"


class WebhookEndpoint(TenantOwnedModel):
    """A receiver URL of the tenant; events of ``event_types`` are POSTed to it, signed with ``secret``.

    The secret is kept (not hashed) because every send signs with it; it is shown once, when it is
    created or rotated, and never returned by a page or the API afterwards.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    name = models.CharField(_("名称"), max_length=100, blank=True)
    url = models.URLField(_("接收地址"), max_length=500)
    secret = models.CharField(_("签名密钥"), max_length=100, editable=False)
    event_types = models.JSONField(_("事件类型"), default=list)
    is_active = models.BooleanField(_("启用"), default=True)
    consecutive_failures = models.PositiveIntegerField(_("连续失败次数"), default=0)
    failing_since = models.DateTimeField(_("开始失败时间"), null=True, blank=True)
    disabled_at = models.DateTimeField(_("自动停用时间"), null=True, blank=True)
    disabled_reason = models.CharField(_("停用原因"), max_length=300, blank=True)
    secret_rotated_at = models.DateTimeField(_("密钥更新时间"), default=timezone.now)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("Webhook 接收地址")
        verbose_name_plural = _("Webhook 接收地址")
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "is_active"], name="webhook_endpoint_active_idx")]

    def __str__(self) -> str:
        return self.name or self.url

    @property
    def subscriber_key(self) -> str:
        return f"{WEBHOOK_PREFIX}:{self.pk}"


class RobotEventRoute(TenantOwnedModel):
    """Which event types the tenant's group robot (crm.notifications settings) also receives."""

    event_types = models.JSONField(_("事件类型"), default=list)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("群机器人事件推送")
        verbose_name_plural = _("群机器人事件推送")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="robot_event_route_one_per_tenant")]

    def __str__(self) -> str:
        return ", ".join(self.event_types)
