"""Payment milestones (回款): a signed contract's payment plan, the receipts against it, and its history.

All amounts are integer fen (``crm.money``). A plan is created when the contract is signed from the
tenant's template (default 首付 30% at signing, 中期款 40% at 水电, 尾款 30% at handover); approved
change orders adjust it; receipts are allocated to milestones in order and are never deleted
(a mistaken receipt is voided with a reason, which keeps the books reconcilable).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel

SIGNING = "signing"  # the trigger of a milestone due at signing (the other triggers are project stages)


class PaymentTemplateStep(TenantOwnedModel):
    """One step of the tenant's payment-plan template; shares of all steps add up to 100%."""

    position = models.PositiveSmallIntegerField(_("顺序"))
    name = models.CharField(_("名称"), max_length=40)
    share_bp = models.PositiveIntegerField(_("比例（万分之）"), help_text=_("3000 = 30%"))
    trigger = models.CharField(_("触发"), max_length=32, help_text=_("signing 或项目阶段"))
    due_days = models.PositiveSmallIntegerField(_("触发后几天内付清"), default=7)

    class Meta:
        verbose_name = _("收款计划模板步骤")
        verbose_name_plural = _("收款计划模板步骤")
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "position"], name="payments_template_position_unique")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.name}"


class PaymentPlan(TenantOwnedModel):
    """The payment plan of one signed project."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", verbose_name=_("项目")
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    contract_amount_fen = models.BigIntegerField(_("合同金额（分）"))
    adjustments_fen = models.BigIntegerField(_("变更调整（分）"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("收款计划")
        verbose_name_plural = _("收款计划")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "project"], name="payments_plan_one_per_project")
        ]
        indexes = [
            models.Index(fields=["tenant", "customer"], name="payments_plan_customer_idx"),
            models.Index(fields=["tenant", "updated_at", "id"], name="payments_plan_updated_idx"),
        ]

    def __str__(self) -> str:
        return str(_("项目 %(project)s 的收款计划") % {"project": self.project_id})

    @property
    def total_fen(self) -> int:
        return self.contract_amount_fen + self.adjustments_fen


class PaymentMilestone(TenantOwnedModel):
    """One instalment: its share of the plan, when it falls due, what has been allocated to it."""

    plan = models.ForeignKey(
        PaymentPlan, on_delete=models.CASCADE, related_name="milestones", verbose_name=_("计划")
    )
    position = models.PositiveSmallIntegerField(_("顺序"))
    name = models.CharField(_("名称"), max_length=40)
    share_bp = models.PositiveIntegerField(_("比例（万分之）"))
    amount_fen = models.BigIntegerField(_("应收（分）"))
    trigger = models.CharField(_("触发"), max_length=32)
    due_days = models.PositiveSmallIntegerField(_("触发后几天内付清"), default=7)
    triggered_at = models.DateTimeField(_("触发时间"), null=True, blank=True)
    due_on = models.DateField(_("应付日期"), null=True, blank=True)
    due_reminded_at = models.DateTimeField(_("到期提醒时间"), null=True, blank=True, editable=False)
    overdue_reminded_at = models.DateTimeField(_("逾期提醒时间"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("收款节点")
        verbose_name_plural = _("收款节点")
        ordering = ["plan_id", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "plan", "position"], name="payments_milestone_position_unique"
            )
        ]
        indexes = [
            # the overdue scan reads only milestones that fell due and were not yet reported
            models.Index(
                fields=["tenant", "due_on"],
                name="payments_milestone_due_idx",
                condition=Q(overdue_reminded_at__isnull=True, due_on__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PaymentMethod(models.TextChoices):
    BANK_TRANSFER = "bank_transfer", _("银行转账")
    WECHAT = "wechat", _("微信支付")
    ALIPAY = "alipay", _("支付宝")
    CARD = "card", _("刷卡")
    CASH = "cash", _("现金")
    REFERRAL_FUND = "referral_fund", _("装修基金抵扣")


class PaymentReceipt(TenantOwnedModel):
    """Money actually received. Never deleted: a mistake is voided with a reason, freeing its allocation."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    plan = models.ForeignKey(
        PaymentPlan, on_delete=models.PROTECT, related_name="receipts", verbose_name=_("计划")
    )
    amount_fen = models.BigIntegerField(_("金额（分）"))
    method = models.CharField(_("方式"), max_length=16, choices=PaymentMethod.choices)
    received_on = models.DateField(_("收款日期"))
    receipt_number = models.CharField(_("收据号"), max_length=40, blank=True)
    note = models.CharField(_("备注"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("登记人")
    )
    ledger_entry = models.ForeignKey(
        "referrals.LedgerEntry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("装修基金流水"),
    )
    voided_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("作废人"),
    )
    void_reason = models.CharField(_("作废原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("收款")
        verbose_name_plural = _("收款")
        ordering = ["-received_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "receipt_number"],
                condition=~Q(receipt_number=""),
                name="payments_receipt_number_unique",
            ),
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_receipt_positive"),
        ]
        indexes = [models.Index(fields=["tenant", "plan", "received_on"], name="payments_receipt_plan_idx")]

    def __str__(self) -> str:
        return self.receipt_number or f"#{self.pk}"


class PaymentAllocation(TenantOwnedModel):
    """How much of a receipt paid which milestone (first unpaid milestone first)."""

    receipt = models.ForeignKey(
        PaymentReceipt, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("收款")
    )
    milestone = models.ForeignKey(
        PaymentMilestone, on_delete=models.CASCADE, related_name="allocations", verbose_name=_("收款节点")
    )
    amount_fen = models.BigIntegerField(_("金额（分）"))

    class Meta:
        verbose_name = _("收款分配")
        verbose_name_plural = _("收款分配")
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_allocation_positive")
        ]


class PlanChangeKind(models.TextChoices):
    CREATED = "created", _("按合同生成")
    CHANGE_ORDER = "change_order", _("变更单调整")


class PaymentPlanChange(TenantOwnedModel):
    """History of a plan: created from the contract, adjusted by each approved change order (once each)."""

    plan = models.ForeignKey(
        PaymentPlan, on_delete=models.CASCADE, related_name="changes", verbose_name=_("计划")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=PlanChangeKind.choices)
    change_order = models.ForeignKey(
        "projects.ChangeOrder",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("变更单"),
    )
    delta_fen = models.BigIntegerField(_("调整（分）"), default=0)
    note = models.CharField(_("说明"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("收款计划变动")
        verbose_name_plural = _("收款计划变动")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "change_order"],
                condition=Q(change_order__isnull=False),
                name="payments_change_order_once",
            )
        ]
