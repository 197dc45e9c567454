"""The customer share link (progress page), its confirmation codes, construction callbacks."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from projects.models.changes import ChangeOrder
from projects.models.stages import Project

# --- Customer share link --------------------------------------------------------------------


class ShareLink(TenantOwnedModel):
    """Customer progress page link: only the hash of the token is stored; revocable, expiring."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="share_links", verbose_name=_("项目")
    )
    key_hash = models.CharField(max_length=64, verbose_name=_("密钥哈希"))
    prefix = models.CharField(max_length=12, verbose_name=_("前缀"))
    expires_at = models.DateTimeField(_("有效期至"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    last_viewed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("最近查看时间"))

    class Meta:
        verbose_name = _("进度分享链接")
        verbose_name_plural = _("进度分享链接")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key_hash"], name="proj_sharelink_hash_uniq")
        ]

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class ConfirmationCode(TenantOwnedModel):
    """One-time SMS code confirming a customer's decision from the share page: on a change order,
    or on what another app names in ``subject`` (e.g. ``"quotation:12"``)."""

    share_link = models.ForeignKey(ShareLink, on_delete=models.CASCADE, related_name="codes")
    change_order = models.ForeignKey(
        ChangeOrder, on_delete=models.CASCADE, related_name="codes", null=True, blank=True
    )
    subject = models.CharField(max_length=64, blank=True, default="")
    decision = models.CharField(max_length=10)
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]


# --- Construction callbacks -----------------------------------------------------------------


class ConstructionCallback(TenantOwnedModel):
    """Customer-service call every 14 days of construction; (project, period) is unique = once."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="callbacks", verbose_name=_("项目")
    )
    period = models.PositiveIntegerField(_("周期"))
    due_on = models.DateField(_("应回访日期"))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责人"),
    )
    satisfaction = models.PositiveSmallIntegerField(
        _("满意度"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comments = models.TextField(_("客户意见"), blank=True)
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("完成时间"))
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("完成人"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("施工回访")
        verbose_name_plural = _("施工回访")
        ordering = ["completed_at", "due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "project", "period"], name="proj_callback_once_per_period"
            ),
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True)
                | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="proj_callback_satisfaction_range",
            ),
        ]
