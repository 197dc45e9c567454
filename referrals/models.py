"""Referrals: who referred whom, the tenant's credit rule, and the append-only "decoration fund" ledger.

Money is integer fen (分) everywhere. The ledger is append-only (a database trigger refuses UPDATE
and DELETE, see migration 0002); the account row caches the balance and is the one lock every
write path takes first (see ``referrals.services``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel


class CreditRuleKind(models.TextChoices):
    FIXED = "fixed", _("固定金额")
    PERCENTAGE = "percentage", _("合同金额百分比")


class ReferralSettings(TenantOwnedModel):
    """The tenant's credit rule: a fixed amount per signed referral, or a share of the contract amount.

    ``percentage_bp`` is in basis points (100 = 1%) so the rule stays integer arithmetic.
    """

    rule_kind = models.CharField(
        _("奖励规则"), max_length=16, choices=CreditRuleKind.choices, default=CreditRuleKind.FIXED
    )
    fixed_amount_fen = models.PositiveBigIntegerField(_("固定奖励（分）"), default=100_000)
    percentage_bp = models.PositiveIntegerField(_("比例（基点，100=1%）"), default=100)
    cap_fen = models.PositiveBigIntegerField(_("单笔上限（分）"), null=True, blank=True)
    vip_threshold = models.PositiveSmallIntegerField(_("VIP 所需成功转介绍数"), default=3)
    vip_title = models.CharField(_("VIP 称号"), max_length=30, default="VIP 设计顾问")
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("转介绍奖励规则")
        verbose_name_plural = _("转介绍奖励规则")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="referrals_settings_one_per_tenant"),
            models.CheckConstraint(
                condition=Q(percentage_bp__lte=10_000), name="referrals_settings_percentage_le_100"
            ),
            models.CheckConstraint(condition=Q(vip_threshold__gte=1), name="referrals_settings_vip_ge_1"),
        ]

    def __str__(self) -> str:
        return f"{self.get_rule_kind_display()}"


class ReferralAccount(TenantOwnedModel):
    """One per customer: the referral code and the cached fund balance (the row every write locks).

    ``balance_fen`` equals the sum of the account's ledger entries (proved by
    ``manage.py reconcile_referral_ledger``); ``shortfall_fen`` is what a reversal could not take
    back because the credit was already spent — recorded, never a negative balance.
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("客户")
    )
    code = models.CharField(_("推荐码"), max_length=12)
    balance_fen = models.BigIntegerField(_("余额（分）"), default=0)
    shortfall_fen = models.BigIntegerField(_("待追回差额（分）"), default=0)
    credited_referrals = models.PositiveIntegerField(_("成功转介绍数"), default=0)
    is_vip = models.BooleanField(_("VIP"), default=False)
    vip_since = models.DateField(_("成为 VIP 日期"), null=True, blank=True)
    vip_review_needed = models.BooleanField(_("VIP 待经理复核"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("转介绍账户")
        verbose_name_plural = _("转介绍账户")
        ordering = ["-credited_referrals", "-balance_fen", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer"], name="referrals_account_tenant_customer"),
            models.UniqueConstraint(fields=["tenant", "code"], name="referrals_account_tenant_code"),
            models.CheckConstraint(condition=Q(balance_fen__gte=0), name="referrals_account_balance_ge_0"),
            models.CheckConstraint(
                condition=Q(shortfall_fen__gte=0), name="referrals_account_shortfall_ge_0"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-credited_referrals"], name="ref_acct_tenant_credited_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.code}"


class ReferralStatus(models.TextChoices):
    REFERRED = "referred", _("已推荐")
    CONTACTED = "contacted", _("已联系")
    SIGNED = "signed", _("已签约")
    CREDITED = "credited", _("已奖励")
    LOST = "lost", _("已流失")
    CANCELLED = "cancelled", _("已取消")


class ReferralSource(models.TextChoices):
    LINK = "link", _("分享链接")
    INTAKE = "intake", _("线索录入（推荐码）")
    MANUAL = "manual", _("员工手动关联")


class Referral(TenantOwnedModel):
    """``referrer`` brought in ``referred``. A referred customer has at most one referrer."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    referrer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("推荐人")
    )
    referred = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="+", verbose_name=_("被推荐客户")
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=ReferralStatus.choices, default=ReferralStatus.REFERRED
    )
    source = models.CharField(_("来源"), max_length=16, choices=ReferralSource.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)
    contacted_at = models.DateTimeField(_("联系时间"), null=True, blank=True)
    signed_at = models.DateTimeField(_("签约时间"), null=True, blank=True)
    signed_project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("签约项目"),
    )
    credited_at = models.DateTimeField(_("奖励时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("转介绍")
        verbose_name_plural = _("转介绍")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "referred"], name="referrals_one_referrer_per_customer"
            ),
            models.CheckConstraint(condition=~Q(referrer=F("referred")), name="referrals_no_self_referral"),
        ]
        indexes = [
            models.Index(fields=["tenant", "referrer"], name="ref_tenant_referrer_idx"),
            models.Index(fields=["tenant", "status"], name="ref_tenant_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.referrer_id} → {self.referred_id}"


class EntryKind(models.TextChoices):
    CREDIT = "credit", _("奖励入账")
    REDEMPTION = "redemption", _("抵扣使用")
    REVERSAL = "reversal", _("冲正")
    ADJUSTMENT = "adjustment", _("人工调整")


class RedemptionTarget(models.TextChoices):
    SOFT_FURNISHING = "soft_furnishing", _("软装")
    APPLIANCES = "appliances", _("家电")
    FUTURE_PROJECT = "future_project", _("新项目")
    CHANGE_ORDER = "change_order", _("增项变更单")
    CONTRACT_PAYMENT = "contract_payment", _("抵扣工程款")


class LedgerEntry(TenantOwnedModel):
    """One movement of the fund. Never updated or deleted: corrections are new entries.

    ``amount_fen`` is signed (credit > 0, redemption < 0, reversal <= 0, adjustment != 0);
    ``shortfall_change_fen`` moves the account's unrecovered shortfall (a reversal larger than the
    balance records the uncovered part here instead of driving the balance negative).
    """

    api_sync_fields = ("created_at", "created_at")  # append-only: never updated (crm/sync.py)
    account = models.ForeignKey(
        ReferralAccount, on_delete=models.PROTECT, related_name="entries", verbose_name=_("账户")
    )
    kind = models.CharField(_("类型"), max_length=16, choices=EntryKind.choices)
    amount_fen = models.BigIntegerField(_("金额（分）"))
    balance_after_fen = models.BigIntegerField(_("变动后余额（分）"))
    shortfall_change_fen = models.BigIntegerField(_("差额变动（分）"), default=0)
    idempotency_key = models.CharField(_("幂等键"), max_length=120)
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, null=True, blank=True, related_name="entries"
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("关联项目"),
    )
    redemption_target = models.CharField(
        _("抵扣用途"), max_length=20, choices=RedemptionTarget.choices, blank=True
    )
    description = models.CharField(_("说明"), max_length=200, blank=True)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("奖励金流水")
        verbose_name_plural = _("奖励金流水")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"], name="referrals_entry_tenant_idempotency"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind="credit", amount_fen__gt=0)
                    | Q(kind="redemption", amount_fen__lt=0)
                    | Q(kind="reversal", amount_fen__lte=0)
                    | (Q(kind="adjustment") & ~Q(amount_fen=0) & ~Q(reason=""))
                ),
                name="referrals_entry_sign_matches_kind",
            ),
            models.CheckConstraint(
                condition=~Q(kind="redemption") | ~Q(redemption_target=""),
                name="referrals_entry_redemption_has_target",
            ),
            models.CheckConstraint(
                condition=~Q(amount_fen=0) | ~Q(shortfall_change_fen=0),
                name="referrals_entry_moves_something",
            ),
            models.CheckConstraint(
                condition=Q(balance_after_fen__gte=0), name="referrals_entry_balance_ge_0"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "account", "-id"], name="ref_entry_tenant_account_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_fen}"


class VipEventKind(models.TextChoices):
    GRANTED = "granted", _("自动晋升 VIP")
    REVIEW_NEEDED = "review_needed", _("冲正后低于门槛，待经理复核")
    KEPT = "kept", _("经理决定保留 VIP")
    REVOKED = "revoked", _("经理决定取消 VIP")


class VipEvent(TenantOwnedModel):
    """The log of VIP status: automatic grants, and every manager decision with its reason."""

    account = models.ForeignKey(ReferralAccount, on_delete=models.PROTECT, related_name="vip_events")
    kind = models.CharField(_("事件"), max_length=16, choices=VipEventKind.choices)
    credited_referrals = models.PositiveIntegerField(_("当时成功转介绍数"))
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("VIP 变更记录")
        verbose_name_plural = _("VIP 变更记录")
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "account"], name="ref_vip_tenant_account_idx")]
