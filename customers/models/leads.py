"""Leads, SLA breaches, follow-ups and their reminders, pool claims."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from customers.models.customers import Customer, SourceChannel


class LeadStatus(models.TextChoices):
    OPEN = "open", _("待响应")
    RESPONDED = "responded", _("已响应")
    POOLED = "pooled", _("已进入公海")


class Lead(TenantOwnedModel):
    """One inquiry. The first human follow-up stops its SLA clock and records the response time."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="leads", verbose_name=_("客户")
    )
    source_channel = models.CharField(_("来源渠道"), max_length=32, choices=SourceChannel.choices)
    received_at = models.DateTimeField(_("接收时间"))
    clock_started_at = models.DateTimeField(_("计时开始"), help_text=_("营业时间外的线索从下次开门起计时"))
    first_response_due_at = models.DateTimeField(_("首次响应截止"))
    pool_due_at = models.DateTimeField(_("进入公海时间"))
    received_outside_hours = models.BooleanField(_("非营业时间到达"), default=False)
    note = models.TextField(_("备注"), blank=True)
    referral_code = models.CharField(_("推荐码"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_leads",
        verbose_name=_("负责销售"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    first_responded_at = models.DateTimeField(_("首次响应时间"), null=True, blank=True)
    first_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("首次响应人"),
    )
    response_seconds = models.PositiveIntegerField(_("响应用时（秒）"), null=True, blank=True)
    sla_breached = models.BooleanField(_("已超时"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("线索")
        verbose_name_plural = _("线索")
        ordering = ["first_response_due_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "status", "first_response_due_at"], name="lead_tenant_status_due_idx"
            ),
            models.Index(fields=["tenant", "status", "pool_due_at"], name="lead_tenant_status_pool_idx"),
            models.Index(fields=["tenant", "received_at"], name="lead_tenant_received_idx"),
            models.Index(fields=["tenant", "customer"], name="lead_tenant_customer_idx"),
            # The SLA breach scan: only open, not yet breached leads (grows with due work only).
            models.Index(
                fields=["tenant", "first_response_due_at"],
                name="lead_sla_due_idx",
                condition=models.Q(status="open", sla_breached=False),
            ),
        ]

    def __str__(self) -> str:
        return str(_("线索 #%(pk)s") % {"pk": self.pk})


class LeadSlaBreach(TenantOwnedModel):
    """Dispatch row of a breach: unique per lead, inserted in the transaction that notifies."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="breaches", verbose_name=_("线索"))
    detected_at = models.DateTimeField(auto_now_add=True, verbose_name=_("发现时间"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责人"),
    )
    reassigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("改派给"),
    )
    notified = models.PositiveIntegerField(default=0, verbose_name=_("已通知人数"))

    class Meta:
        verbose_name = _("线索超时记录")
        verbose_name_plural = _("线索超时记录")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "lead"], name="customers_breach_once_per_lead")
        ]


class FollowUpKind(models.TextChoices):
    CALL = "call", _("电话")
    WECHAT = "wechat", _("微信")
    VISIT = "visit", _("到店/上门")
    MESSAGE = "message", _("短信/留言")
    MEASURE = "measure", _("量房")
    DESIGN = "design", _("方案沟通")
    NOTE = "note", _("内部备注")


HUMAN_FOLLOW_UP_KINDS = {"call", "wechat", "visit", "message", "measure", "design"}


class FollowUpOutcome(models.TextChoices):
    REACHED = "reached", _("已联系上")
    NO_ANSWER = "no_answer", _("未接通")
    APPOINTMENT = "appointment", _("已约量房/到店")
    NOT_INTERESTED = "not_interested", _("暂无需求")
    OTHER = "other", _("其他")


class FollowUp(TenantOwnedModel):
    """One touch on the customer's timeline; may schedule the next follow-up (reminded through the
    ``sales`` app's follow-up task).

    ``superseded_at`` marks a follow-up that has a later one (by ``occurred_at``) on the same
    customer; only the customer's latest touches are open, and only their planned next time is due.
    Kept by database triggers (migration 0014) on every insert, delete and change of customer or
    time — services, merges and their undo, bulk loads and the admin alike — so "my follow-ups due"
    is an index range instead of an anti-join over every follow-up.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("客户")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("记录人"),
    )
    kind = models.CharField(_("方式"), max_length=16, choices=FollowUpKind.choices)
    content = models.TextField(_("内容"))
    outcome = models.CharField(_("结果"), max_length=16, choices=FollowUpOutcome.choices, blank=True)
    occurred_at = models.DateTimeField(_("时间"))
    next_follow_up_at = models.DateTimeField(_("下次跟进时间"), null=True, blank=True)
    # Written before the reminder became the sales app's follow-up task; sales 0003 carried it over
    # (and its test still runs that migration on the current schema). Nothing reads it now.
    reminded_at = models.DateTimeField(_("提醒时间"), null=True, blank=True, editable=False)
    superseded_at = models.DateTimeField(_("被后续跟进取代时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("跟进记录")
        verbose_name_plural = _("跟进记录")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "customer", "-occurred_at"], name="fu_tenant_customer_idx"),
            models.Index(fields=["tenant", "next_follow_up_at"], name="fu_tenant_next_idx"),
            # My follow-ups due (sales workbench): open plans by author and time; superseded leave.
            models.Index(
                fields=["tenant", "author", "next_follow_up_at"],
                name="fu_open_due_idx",
                condition=models.Q(superseded_at__isnull=True, next_follow_up_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.occurred_at:%Y-%m-%d}"


class PoolClaim(TenantOwnedModel):
    """Who took a customer out of the lead pool (公海), and when."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="pool_claims", verbose_name=_("客户")
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("领取人")
    )
    claimed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("领取时间"))
    pooled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("进入公海时间"))

    class Meta:
        verbose_name = _("公海领取记录")
        verbose_name_plural = _("公海领取记录")
        ordering = ["-claimed_at"]
        constraints = [
            # One claim per pooling: two users racing for the same pooled customer cannot both win.
            models.UniqueConstraint(
                fields=["tenant", "customer", "pooled_at"], name="customers_claim_once_per_pooling"
            )
        ]
