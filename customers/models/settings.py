"""Per-tenant settings of the customers module (business hours, SLA, pool, classification)."""

from __future__ import annotations

import datetime

from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


def default_business_days() -> list[int]:
    return [0, 1, 2, 3, 4, 5, 6]


class SalesVisibility(models.TextChoices):
    OWN = "own", _("销售只看自己的客户和公海")
    ALL = "all", _("销售可看全部客户")


class CustomerSettings(TenantOwnedModel):
    """Per-tenant knobs of the customers module (one row per tenant, created on demand)."""

    business_hours_start = models.TimeField(_("营业开始"), default=datetime.time(9, 0))
    business_hours_end = models.TimeField(_("营业结束"), default=datetime.time(21, 0))
    business_days = models.JSONField(
        _("营业日"), default=default_business_days, help_text=_("0=周一 … 6=周日")
    )
    pool_after_minutes = models.PositiveIntegerField(
        _("未响应线索进入公海（分钟）"), default=120, help_text=_("第二个、更长的期限")
    )
    pool_after_idle_days = models.PositiveIntegerField(
        _("无跟进客户进入公海（天）"), default=30, help_text=_("0 表示不启用")
    )
    silent_after_days = models.PositiveIntegerField(_("多少天未跟进视为沉默"), default=30)
    budget_low_below_fen = models.PositiveBigIntegerField(_("低预算上限（分，不含）"), default=10_000_000)
    budget_high_from_fen = models.PositiveBigIntegerField(_("高预算下限（分）"), default=30_000_000)
    value_high_from_fen = models.PositiveBigIntegerField(_("高价值下限（分）"), default=50_000_000)
    auto_assign = models.BooleanField(_("新线索自动轮流分配"), default=True)
    reassign_on_breach = models.BooleanField(_("超时后改派给下一位值班销售"), default=False)
    sales_visibility = models.CharField(
        _("销售可见范围"), max_length=8, choices=SalesVisibility.choices, default=SalesVisibility.OWN
    )
    # During a rotation the replaced key keeps working until its grace period ends (live web forms
    # switch over without losing inquiries); then it is simply ignored.
    previous_intake_key_hash = models.CharField(
        max_length=64, blank=True, editable=False, verbose_name=_("旧接入密钥哈希")
    )
    previous_intake_key_prefix = models.CharField(
        max_length=16, blank=True, editable=False, verbose_name=_("旧接入密钥前缀")
    )
    previous_intake_key_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("旧接入密钥失效时间")
    )
    round_robin_last_user_id = models.BigIntegerField(
        null=True, blank=True, editable=False, verbose_name=_("轮询上次分配的员工")
    )
    intake_key_hash = models.CharField(
        max_length=64, blank=True, editable=False, verbose_name=_("接入密钥哈希")
    )
    intake_key_prefix = models.CharField(
        max_length=16, blank=True, editable=False, verbose_name=_("接入密钥前缀")
    )

    class Meta:
        verbose_name = _("客户模块设置")
        verbose_name_plural = _("客户模块设置")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="customers_settings_one_per_tenant")]

    def __str__(self) -> str:
        return str(_("客户模块设置 #%(tenant)s") % {"tenant": self.tenant_id})
