"""Quotations (报价单): a tenant's price catalogue and the quotations built from it.

Money is integer fen (``crm.money``); quantities and areas are ``Decimal`` (12.35 m² of tiles), and
a line total is ``fen_times(unit_price_fen, quantity)``, rounded once. A quotation's lines are a
snapshot: changing the catalogue never changes a quotation already written.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class ItemCategory(models.TextChoices):
    MAIN_MATERIAL = "main_material", _("主材")
    AUX_MATERIAL = "aux_material", _("辅材")
    LABOUR = "labour", _("人工")
    MANAGEMENT = "management", _("管理费")
    DESIGN = "design", _("设计费")


class CatalogueItem(TenantOwnedModel):
    """One priced item of the tenant's catalogue (瓷砖 800×800 / ㎡ / ¥128.00)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    name = models.CharField(_("名称"), max_length=100)
    spec = models.CharField(_("规格"), max_length=100, blank=True)
    unit = models.CharField(_("单位"), max_length=20)
    unit_price_fen = models.PositiveBigIntegerField(_("单价（分）"))
    category = models.CharField(_("类别"), max_length=20, choices=ItemCategory.choices)
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("报价项目")
        verbose_name_plural = _("报价项目")
        ordering = ["category", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "spec"], name="quotes_item_name_spec_uniq"),
        ]
        indexes = [models.Index(fields=["tenant", "category", "name"], name="quotes_item_category")]

    def __str__(self) -> str:
        return f"{self.name} {self.spec}".strip()


class Package(TenantOwnedModel):
    """A package priced per m² of floor area (整装套餐 ¥1,288/㎡), with what it includes."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    name = models.CharField(_("套餐名称"), max_length=100)
    price_per_sqm_fen = models.PositiveBigIntegerField(_("每平方米单价（分）"))
    includes = models.TextField(_("包含内容"), max_length=2000, blank=True)
    items = models.ManyToManyField(
        CatalogueItem, through="PackageItem", blank=True, related_name="+", verbose_name=_("包含项目")
    )
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("套餐")
        verbose_name_plural = _("套餐")
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="quotes_package_name_uniq")]

    def __str__(self) -> str:
        return self.name


class PackageItem(TenantOwnedModel):
    """A catalogue item a package includes (tenant-owned, so RLS covers the link rows too)."""

    package = models.ForeignKey(Package, on_delete=models.CASCADE, related_name="+")
    item = models.ForeignKey(CatalogueItem, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "package", "item"], name="quotes_package_item_once")
        ]


class QuoteSettings(TenantOwnedModel):
    """Per tenant: a discount above ``approval_threshold_bp`` of the subtotal needs a manager."""

    approval_threshold_bp = models.PositiveIntegerField(_("需审批的折扣比例（基点，500 = 5%）"), default=500)

    class Meta:
        verbose_name = _("报价设置")
        verbose_name_plural = _("报价设置")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="quotes_settings_one_per_tenant")]


class QuotationStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SENT = "sent", _("已发送")
    ACCEPTED = "accepted", _("客户已接受")
    REJECTED = "rejected", _("客户已拒绝")
    SUPERSEDED = "superseded", _("已被新版本取代")


class DiscountKind(models.TextChoices):
    NONE = "none", _("无折扣")
    AMOUNT = "amount", _("金额")
    PERCENT = "percent", _("百分比")


class DiscountApproval(models.TextChoices):
    NOT_NEEDED = "not_needed", _("无需审批")
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")


class Quotation(TenantOwnedModel):
    """One version of a quotation. Versions share ``number``; only a draft version is editable.

    Revising a sent (or rejected) version copies it into version n+1 as a draft and marks the old
    one superseded: an earlier version is never changed again.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    number = models.CharField(_("报价单号"), max_length=20)
    version = models.PositiveSmallIntegerField(_("版本"), default=1)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("客户")
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("项目"),
    )
    title = models.CharField(_("标题"), max_length=100)
    area_sqm = models.DecimalField(_("面积（㎡）"), max_digits=8, decimal_places=2, null=True, blank=True)
    note = models.CharField(_("备注"), max_length=500, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=QuotationStatus.choices, default=QuotationStatus.DRAFT
    )
    subtotal_fen = models.BigIntegerField(_("小计（分）"), default=0)
    discount_kind = models.CharField(
        _("折扣方式"), max_length=10, choices=DiscountKind.choices, default=DiscountKind.NONE
    )
    discount_value = models.BigIntegerField(_("折扣值（分或基点）"), default=0)
    discount_fen = models.BigIntegerField(_("折扣金额（分）"), default=0)
    # Included in ``discount_fen``: the part that redeemed campaign offers take off (pre-approved).
    offer_discount_fen = models.BigIntegerField(_("活动优惠抵扣（分）"), default=0)
    total_fen = models.BigIntegerField(_("合计（分）"), default=0)
    discount_approval = models.CharField(
        _("折扣审批"), max_length=12, choices=DiscountApproval.choices, default=DiscountApproval.NOT_NEEDED
    )
    discount_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    discount_decided_at = models.DateTimeField(null=True, blank=True)
    discount_note = models.CharField(_("审批意见"), max_length=300, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    decided_at = models.DateTimeField(_("客户决定时间"), null=True, blank=True)
    decision_channel = models.CharField(_("确认方式"), max_length=20, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("报价单")
        verbose_name_plural = _("报价单")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "number", "version"], name="quotes_quotation_number_version_uniq"
            ),
            models.CheckConstraint(
                condition=Q(subtotal_fen__gte=0, discount_fen__gte=0, total_fen__gte=0),
                name="quotes_quotation_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(total_fen=models.F("subtotal_fen") - models.F("discount_fen")),
                name="quotes_quotation_total_is_subtotal_less_discount",
            ),
            models.CheckConstraint(
                condition=Q(offer_discount_fen__gte=0, offer_discount_fen__lte=models.F("discount_fen")),
                name="quotes_quotation_offer_discount_within_discount",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "customer", "-created_at"], name="quotes_quotation_customer"),
            models.Index(fields=["tenant", "project", "status"], name="quotes_quotation_project"),
        ]

    def __str__(self) -> str:
        return f"{self.number} v{self.version}"

    @property
    def is_editable(self) -> bool:
        return self.status == QuotationStatus.DRAFT


class LineKind(models.TextChoices):
    ITEM = "item", _("目录项目")
    PACKAGE = "package", _("套餐")
    FREE = "free", _("自定义")


class QuotationLine(TenantOwnedModel):
    """A line of one quotation version: a snapshot of name, unit and price at the time it was added."""

    quotation = models.ForeignKey(Quotation, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(_("序号"), default=0)
    kind = models.CharField(_("类型"), max_length=10, choices=LineKind.choices)
    catalogue_item = models.ForeignKey(
        CatalogueItem, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    package = models.ForeignKey(Package, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    name = models.CharField(_("名称"), max_length=100)
    spec = models.CharField(_("规格"), max_length=100, blank=True)
    unit = models.CharField(_("单位"), max_length=20)
    category = models.CharField(_("类别"), max_length=20, choices=ItemCategory.choices, blank=True)
    unit_price_fen = models.PositiveBigIntegerField(_("单价（分）"))
    quantity = models.DecimalField(_("数量"), max_digits=12, decimal_places=3)
    amount_fen = models.PositiveBigIntegerField(_("金额（分）"))

    class Meta:
        verbose_name = _("报价明细")
        verbose_name_plural = _("报价明细")
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["tenant", "quotation", "position"], name="quotes_line_position")]

    def __str__(self) -> str:
        return self.name

    @property
    def quantity_display(self) -> str:
        """``6.500`` → ``6.5``, ``50.000`` → ``50`` (never ``5E+1``)."""
        return format(self.quantity.normalize(), "f")
