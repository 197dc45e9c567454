"""Engagement: marketing consent (PIPL), campaigns and offers, content pushes, lead scoring."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel

# --- consent (PIPL) ---------------------------------------------------------------------------


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("短信")
    EMAIL = "email", _("邮件")
    WECHAT = "wechat", _("微信（专人发送）")


class ConsentState(models.TextChoices):
    GRANTED = "granted", _("已同意")
    WITHDRAWN = "withdrawn", _("已退订")


class ConsentSource(models.TextChoices):
    INTAKE_FORM = "intake_form", _("留资表单")
    SIGNUP_PAGE = "signup_page", _("活动报名页")
    STAFF = "staff", _("员工录入")
    OPT_OUT_LINK = "opt_out_link", _("退订链接")
    API = "api", _("接口")


class Consent(TenantOwnedModel):
    """The current marketing consent of one customer on one channel (no row = never opted in)."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=ConsentChannel.choices)
    state = models.CharField(_("状态"), max_length=16, choices=ConsentState.choices)
    source = models.CharField(_("来源"), max_length=16, choices=ConsentSource.choices)
    version = models.CharField(_("授权文本版本"), max_length=32)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    changed_at = models.DateTimeField(_("时间"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("营销授权")
        verbose_name_plural = _("营销授权")
        ordering = ["customer_id", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "customer", "channel"], name="engagement_consent_one_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}/{self.channel}: {self.state}"


class ConsentEvent(TenantOwnedModel):
    """History of consent changes; append-only (an UPDATE raises in the database).

    DELETE stays possible so erasing a customer (cascade) still works.
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=ConsentChannel.choices)
    state = models.CharField(_("状态"), max_length=16, choices=ConsentState.choices)
    source = models.CharField(_("来源"), max_length=16, choices=ConsentSource.choices)
    version = models.CharField(_("授权文本版本"), max_length=32)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("时间"))
    # A name snapshot, not a FK: deleting a user must not rewrite (UPDATE) the history.
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("授权记录")
        verbose_name_plural = _("授权记录")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "customer", "-occurred_at"], name="eng_consentev_cust_idx"),
        ]
