"""Notifications: in-app inbox rows, their outbound deliveries (email, group robot), SMS and
e-mails to customers.

Exactly-once is a database property here: a notification is unique per (tenant, recipient,
dedupe_key), a delivery per (tenant, notification, channel) — and the group-robot post once per
(tenant, dedupe_key) — an SMS and a customer e-mail per (tenant, dedupe_key). Senders claim a row
under a row lock and never send a row that is already ``sent``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class RobotKind(models.TextChoices):
    WECOM = "wecom", _("企业微信群机器人")
    DINGTALK = "dingtalk", _("钉钉群机器人")


class NotificationSettings(TenantOwnedModel):
    """One row per tenant (created on demand): where group-robot webhooks go."""

    robot_kind = models.CharField(_("机器人类型"), max_length=16, choices=RobotKind.choices, blank=True)
    robot_url = models.URLField(_("机器人 Webhook 地址"), max_length=500, blank=True)
    robot_secret = models.CharField(
        _("加签密钥"), max_length=200, blank=True, help_text=_("仅钉钉机器人开启“加签”时需要")
    )
    robot_enabled = models.BooleanField(_("启用群机器人推送"), default=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="notif_settings_one_per_tenant")]

    def __str__(self) -> str:
        return str(self.get_robot_kind_display() or _("未配置"))

    @property
    def robot_active(self) -> bool:
        return bool(self.robot_enabled and self.robot_kind and self.robot_url)


class Notification(TenantOwnedModel):
    """An in-app message to one staff user; ``dedupe_key`` makes repeated notify() calls no-ops."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("接收人"),
    )
    kind = models.CharField(_("类型"), max_length=64)
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=200)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("站内通知")
        verbose_name_plural = _("站内通知")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "recipient", "dedupe_key"], name="notif_unique_recipient_dedupe"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "recipient", "-created_at"], name="notif_inbox_idx"),
            models.Index(
                fields=["tenant", "recipient"], condition=Q(read_at__isnull=True), name="notif_unread_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class OutboundStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    SENDING = "sending", _("发送中")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("失败")


class OutboundMessage(TenantOwnedModel):
    """Shared bookkeeping of anything sent to the outside world: status, attempts, back-off."""

    status = models.CharField(
        _("状态"), max_length=16, choices=OutboundStatus.choices, default=OutboundStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True, default=timezone.now)
    last_attempt_at = models.DateTimeField(_("最近尝试"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    last_error = models.TextField(_("最近错误"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        abstract = True


class Channel(models.TextChoices):
    EMAIL = "email", _("邮件")
    WEBHOOK = "webhook", _("群机器人")


class Delivery(OutboundMessage):
    """One outbound copy of a notification on one channel (the group robot once per dedupe_key)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("通知")
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    dedupe_key = models.CharField(_("去重键"), max_length=200)
    target = models.CharField(_("目标"), max_length=254, blank=True, help_text=_("邮箱地址或机器人类型"))

    class Meta:
        verbose_name = _("通知投递")
        verbose_name_plural = _("通知投递")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "notification", "channel"], name="notif_delivery_one_per_channel"
            ),
            models.UniqueConstraint(
                fields=["tenant", "dedupe_key"],
                condition=Q(channel="webhook"),
                name="notif_delivery_webhook_once",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "status", "next_attempt_at"], name="notif_delivery_due_idx"),
            models.Index(fields=["tenant", "-created_at"], name="notif_delivery_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.target}"


class SmsMessage(OutboundMessage):
    """Every SMS sent to a customer (confirmation codes, reminders); unique per dedupe_key."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    phone = models.CharField(_("手机号"), max_length=20)
    message = models.TextField(_("短信内容"))
    # What staff see: ``message`` with one-time secrets (verification codes) masked.
    display_message = models.TextField(_("短信内容（脱敏）"), blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=200)
    backend = models.CharField(_("发送通道"), max_length=200, blank=True)
    provider_message_id = models.CharField(_("通道消息号"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("短信")
        verbose_name_plural = _("短信")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="sms_unique_dedupe")]
        indexes = [models.Index(fields=["tenant", "status", "next_attempt_at"], name="sms_due_idx")]

    def __str__(self) -> str:
        return f"{self.phone[:3]}****{self.phone[-4:]}"


class OutboundEmail(OutboundMessage):
    """An e-mail to someone outside the staff (a customer's marketing push); unique per dedupe_key.

    Staff notifications e-mail through :class:`Delivery`; this row carries its own subject, body
    and extra headers (``List-Unsubscribe``), sent by the same claim / lease / retry machinery.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    address = models.EmailField(_("收件地址"), max_length=254)
    subject = models.CharField(_("主题"), max_length=200)
    body = models.TextField(_("正文"))
    headers = models.JSONField(_("邮件头"), default=dict, blank=True)
    dedupe_key = models.CharField(_("去重键"), max_length=200)

    class Meta:
        verbose_name = _("客户邮件")
        verbose_name_plural = _("客户邮件")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="email_unique_dedupe")]
        indexes = [models.Index(fields=["tenant", "status", "next_attempt_at"], name="email_due_idx")]

    def __str__(self) -> str:
        return mask_email(self.address)


def mask_email(address: str) -> str:
    """z***@example.com: what staff lists show of a customer's address."""
    local, at, domain = (address or "").partition("@")
    return f"{local[:1]}***@{domain}" if at else ("***" if address else "")
