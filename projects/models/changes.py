"""Change orders with their lines and decision log; materials with QC reports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from projects.models.site import report_upload_to
from projects.models.stages import Project

# --- Change orders --------------------------------------------------------------------------


class ChangeOrderStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SENT = "sent", _("待客户确认")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已拒绝")


class DecisionChannel(models.TextChoices):
    CUSTOMER_LINK = "customer_link", _("客户进度页（短信验证码）")
    STAFF_IN_PERSON = "staff_in_person", _("员工代客户（当面）")
    STAFF_PHONE = "staff_phone", _("员工代客户（电话）")
    STAFF_WECHAT = "staff_wechat", _("员工代客户（微信）")


class ChangeOrder(TenantOwnedModel):
    """A priced change to the contract; approved/rejected ones are immutable (service + trigger)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="change_orders", verbose_name=_("项目")
    )
    number = models.PositiveIntegerField(_("编号"))
    title = models.CharField(_("标题"), max_length=100)
    reason = models.TextField(_("变更原因"))
    status = models.CharField(
        _("状态"), max_length=10, choices=ChangeOrderStatus.choices, default=ChangeOrderStatus.DRAFT
    )
    amount_delta_fen = models.BigIntegerField(_("金额变动（分）"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("发送时间"))
    decided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("决定时间"))
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("决定人"),
    )
    decision_channel = models.CharField(
        max_length=20, choices=DecisionChannel.choices, blank=True, verbose_name=_("确认渠道")
    )
    decision_note = models.CharField(max_length=300, blank=True, verbose_name=_("决定说明"))

    class Meta:
        verbose_name = _("变更单")
        verbose_name_plural = _("变更单")
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "project", "number"], name="proj_changeorder_number_uniq"
            )
        ]

    @property
    def is_decided(self) -> bool:
        return self.status in (ChangeOrderStatus.APPROVED, ChangeOrderStatus.REJECTED)


class ChangeOrderLine(TenantOwnedModel):
    change_order = models.ForeignKey(
        ChangeOrder, on_delete=models.CASCADE, related_name="lines", verbose_name=_("变更单")
    )
    description = models.CharField(_("项目"), max_length=100)
    quantity = models.DecimalField(_("数量"), max_digits=10, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=10, blank=True)
    unit_price_fen = models.BigIntegerField(_("单价（分）"), help_text=_("减项填负数"))
    amount_fen = models.BigIntegerField(_("金额（分）"), help_text=_("单价 × 数量，四舍五入到分"))

    class Meta:
        verbose_name = _("变更明细")
        verbose_name_plural = _("变更明细")
        ordering = ["id"]


class ChangeOrderEvent(TenantOwnedModel):
    """History of a change order (created, edited, sent, approved, rejected)."""

    change_order = models.ForeignKey(
        ChangeOrder, on_delete=models.CASCADE, related_name="events", verbose_name=_("变更单")
    )
    action = models.CharField(max_length=20, verbose_name=_("动作"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    channel = models.CharField(max_length=20, blank=True, verbose_name=_("渠道"))
    note = models.CharField(max_length=300, blank=True, verbose_name=_("备注"))
    occurred_at = models.DateTimeField(default=timezone.now, verbose_name=_("发生时间"))

    ACTION_LABELS = {
        "created": _("创建"),
        "edited": _("修改"),
        "sent": _("发送客户"),
        "approved": _("批准"),
        "rejected": _("拒绝"),
    }

    class Meta:
        verbose_name = _("变更单记录")
        verbose_name_plural = _("变更单记录")
        ordering = ["occurred_at", "id"]

    @property
    def action_label(self) -> str:
        return str(self.ACTION_LABELS.get(self.action, self.action))

    @property
    def channel_label(self) -> str:
        return str(DecisionChannel(self.channel).label) if self.channel in DecisionChannel.values else ""


# --- Materials ------------------------------------------------------------------------------


class Material(TenantOwnedModel):
    class Category(models.TextChoices):
        MAIN = "main", _("主材")
        AUXILIARY = "auxiliary", _("辅材")

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="materials", verbose_name=_("项目")
    )
    category = models.CharField(_("类别"), max_length=10, choices=Category.choices)
    name = models.CharField(_("名称"), max_length=60)
    brand = models.CharField(_("品牌"), max_length=60)
    model_number = models.CharField(_("型号"), max_length=60, blank=True)
    batch_number = models.CharField(_("批次号"), max_length=60, blank=True)
    supplier = models.CharField(_("供应商"), max_length=100, blank=True)
    room = models.CharField(_("使用空间"), max_length=30, blank=True)
    quantity = models.DecimalField(_("数量"), max_digits=10, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=10, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("材料")
        verbose_name_plural = _("材料")
        ordering = ["category", "id"]


class MaterialReport(TenantOwnedModel):
    """A QC / test report file of a material (e.g. tile radioactivity test)."""

    material = models.ForeignKey(
        Material, on_delete=models.CASCADE, related_name="reports", verbose_name=_("材料")
    )
    title = models.CharField(_("报告名称"), max_length=100)
    file = models.FileField(_("文件"), upload_to=report_upload_to, max_length=200)
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("上传时间"))

    class Meta:
        verbose_name = _("检测报告")
        verbose_name_plural = _("检测报告")
        ordering = ["id"]
