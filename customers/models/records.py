"""Saved segments, the audit log, merges and ownership history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from customers.models.customers import Customer


class Segment(TenantOwnedModel):
    """A manager's named filter set (query-string parameters of the customer list)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    name = models.CharField(_("名称"), max_length=100)
    filters = models.JSONField(_("筛选条件"), default=dict)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("客户分群")
        verbose_name_plural = _("客户分群")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="customers_segment_name_uniq")]

    def __str__(self) -> str:
        return self.name


class AuditAction(models.TextChoices):
    REVEAL_PHONE = "reveal_phone", _("查看完整手机号")
    EXPORT_LIST = "export_list", _("导出客户列表")
    EXPORT_CUSTOMER = "export_customer", _("导出单个客户数据")
    ANONYMISE = "anonymise", _("匿名化客户")
    IMPORT = "import", _("导入客户")
    MERGE = "merge", _("合并重复客户")
    UNMERGE = "unmerge", _("撤销合并")
    REASSIGN = "reassign", _("批量改派")


class CustomerAuditLog(TenantOwnedModel):
    """PIPL: who saw or exported whose personal information, and when. Append-only."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    action = models.CharField(_("操作"), max_length=24, choices=AuditAction.choices)
    customer = models.ForeignKey(
        Customer, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("客户")
    )
    detail = models.JSONField(default=dict, blank=True, verbose_name=_("详情"))
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("客户审计日志")
        verbose_name_plural = _("客户审计日志")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "-created_at"], name="cust_audit_tenant_created_idx")]


class CustomerMerge(TenantOwnedModel):
    """One merge of a duplicate into a survivor, holding everything needed to undo it.

    ``duplicate_values`` / ``survivor_values`` are the two records' field values before the merge;
    ``moved`` is each app's record of what it moved (``{"app": {"moved": {"app.Model.field": [ids]}, …}}``).
    A duplicate is merged at most once at a time (undone merges are kept, marked ``undone_at``).
    """

    api_sync_fields = ("merged_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    survivor = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("保留客户")
    )
    duplicate = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("被合并客户")
    )
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    merged_at = models.DateTimeField(_("合并时间"), auto_now_add=True)
    field_choices = models.JSONField(_("字段取值"), default=dict)
    duplicate_values = models.JSONField(default=dict)
    survivor_values = models.JSONField(default=dict)
    moved = models.JSONField(default=dict)
    undone_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("客户合并记录")
        verbose_name_plural = _("客户合并记录")
        ordering = ["-merged_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "duplicate"],
                name="customers_merge_once_per_duplicate",
                condition=models.Q(undone_at__isnull=True),
            ),
            models.CheckConstraint(
                condition=~models.Q(survivor=models.F("duplicate")), name="customers_merge_not_self"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "survivor"], name="cust_merge_tenant_survivor_idx")]

    def __str__(self) -> str:
        return f"{self.duplicate_id} → {self.survivor_id}"


class OwnershipReason(models.TextChoices):
    RECORDED = "", _("—")
    REASSIGNED = "reassigned", _("批量改派")
    MERGED = "merged", _("合并客户")


class CustomerOwnership(TenantOwnedModel):
    """Who held a customer from when to when (``owner`` empty = pool / unassigned).

    Written by a database trigger on every change of ``Customer.owner_id`` (migration 0007), so every
    path — services, scans, bulk updates — is recorded; services that know why add ``reason`` and
    ``changed_by`` to the open period they just started.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="ownership_periods")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责人"),
    )
    started_at = models.DateTimeField(_("开始"))
    ended_at = models.DateTimeField(_("结束"), null=True, blank=True)
    reason = models.CharField(_("原因"), max_length=16, choices=OwnershipReason.choices, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("客户归属记录")
        verbose_name_plural = _("客户归属记录")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "customer", "-started_at"], name="cust_ownership_customer_idx"),
            models.Index(fields=["tenant", "owner", "started_at"], name="cust_ownership_owner_idx"),
        ]
