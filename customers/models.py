"""Customers and leads of one decoration company."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class SourceChannel(models.TextChoices):
    WEBSITE = "website", _("官网")
    WECHAT = "wechat", _("微信")
    DOUYIN = "douyin", _("抖音")
    XIAOHONGSHU = "xiaohongshu", _("小红书")
    SEARCH_ADS = "search_ads", _("搜索广告")
    LISTING_PLATFORM = "listing_platform", _("家装平台")
    STORE_WALK_IN = "store_walk_in", _("门店到访")
    HOME_EXPO = "home_expo", _("家博会")
    COMMUNITY_EVENT = "community_event", _("小区活动")
    REFERRAL = "referral", _("转介绍")
    AFTERCARE = "aftercare", _("售后回访")


class Customer(TenantOwnedModel):
    """A lead or customer of one tenant. The phone (normalized +86…) is unique per tenant."""

    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("手机号"), max_length=20, help_text=_("规范化存储，如 +8613812345678"))
    wechat_id = models.CharField(_("微信号"), max_length=50, blank=True)
    source_channel = models.CharField(
        _("来源渠道"), max_length=32, choices=SourceChannel.choices, default=SourceChannel.WEBSITE
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="owned_customers",
        verbose_name=_("负责销售"),
    )
    designer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="designed_customers",
        verbose_name=_("设计师"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "phone"], name="customers_customer_tenant_phone_uniq"),
        ]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="cust_tenant_created_idx")]

    def __str__(self) -> str:
        return self.name
