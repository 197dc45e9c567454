"""The customer and every classification axis; phone and e-mail masking."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.notifications.models import mask_email
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


ONLINE_CHANNELS = {"website", "wechat", "douyin", "xiaohongshu", "search_ads", "listing_platform"}


class Lifecycle(models.TextChoices):
    LEAD = "lead", _("线索")
    MEASURED = "measured", _("已量房")
    DESIGNING = "designing", _("设计中")
    SIGNED = "signed", _("已签约")
    UNDER_CONSTRUCTION = "under_construction", _("施工中")
    HANDED_OVER = "handed_over", _("已交付")
    AFTERCARE = "aftercare", _("售后")
    REPEAT = "repeat", _("复购")


class CustomerType(models.TextChoices):
    NEW_HOUSE = "new_house", _("新房装修")
    SECOND_HAND = "second_hand", _("二手房翻新")
    COMMERCIAL = "commercial", _("商业空间")


class HouseCondition(models.TextChoices):
    ROUGH = "rough", _("毛坯")
    BASIC = "basic", _("简装")
    FINISHED = "finished", _("精装")
    OLD = "old", _("老旧待翻新")


class CookingFrequency(models.TextChoices):
    RARELY = "rarely", _("很少做饭")
    SOMETIMES = "sometimes", _("偶尔做饭")
    DAILY = "daily", _("每天做饭")


class Style(models.TextChoices):
    MODERN = "modern", _("现代")
    MINIMALIST = "minimalist", _("极简")
    NORDIC = "nordic", _("北欧")
    NEW_CHINESE = "new_chinese", _("新中式")
    EUROPEAN = "european", _("欧式")
    AMERICAN = "american", _("美式")
    JAPANESE = "japanese", _("日式")
    LIGHT_LUXURY = "light_luxury", _("轻奢")
    INDUSTRIAL = "industrial", _("工业风")
    WABI_SABI = "wabi_sabi", _("侘寂")


class FunctionalNeed(models.TextChoices):
    OPEN_LAYOUT = "open_layout", _("开放式布局")
    STORAGE = "storage", _("收纳")
    APPLIANCES = "appliances", _("家电嵌入")
    SMART_HOME = "smart_home", _("智能家居")
    ECO_MATERIALS = "eco_materials", _("环保材料")
    SOUNDPROOFING = "soundproofing", _("隔音")
    AGING_FRIENDLY = "aging_friendly", _("适老化")
    CHILD_SAFETY = "child_safety", _("儿童安全")


class BudgetTier(models.TextChoices):
    UNKNOWN = "unknown", _("未知")
    LOW = "low", _("低预算")
    MID = "mid", _("中预算")
    HIGH = "high", _("高预算")


# Who may fall back into the public pool: nothing signed, no project past early sales (see
# customers.services.pool.poolable_customer_q; also the predicate of the idle-pool indexes).
POOLABLE_LIFECYCLES = [Lifecycle.LEAD, Lifecycle.MEASURED, Lifecycle.DESIGNING]


class Intent(models.TextChoices):
    POTENTIAL = "potential", _("潜在")
    INTENT = "intent", _("有意向")
    SIGNED = "signed", _("已签约")
    LOST = "lost", _("已流失")


class FollowUpStatus(models.TextChoices):
    FIRST_CONTACT = "first_contact", _("待首次联系")
    FOLLOWING = "following", _("跟进中")
    DORMANT = "dormant", _("休眠")


class Loyalty(models.TextChoices):
    POTENTIAL = "potential", _("潜在客户")
    NEW = "new", _("新客户")
    RETURNING = "returning", _("老客户")


class Activity(models.TextChoices):
    ACTIVE = "active", _("活跃")
    SILENT = "silent", _("沉默")


class ValueTier(models.TextChoices):
    LOW = "low", _("一般")
    MID = "mid", _("重要")
    HIGH = "high", _("高价值")


class Customer(TenantOwnedModel):
    """A lead or customer of one tenant. The phone (normalized +86…) is unique per tenant.

    Derived axes (budget_tier, lifecycle, loyalty, activity, value_*, system_tags) are written only
    by ``customers.services.classification.customer_recompute`` from their stored inputs, never by hand.
    """

    # contact
    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    name = models.CharField(_("姓名"), max_length=50)
    phone = models.CharField(_("手机号"), max_length=20, help_text=_("规范化存储，如 +8613812345678"))
    wechat_id = models.CharField(_("微信号"), max_length=50, blank=True)
    email = models.EmailField(
        _("邮箱"), max_length=254, blank=True, help_text=_("可选；规范化为小写，用于邮件营销（需授权）")
    )
    preferred_contact_time = models.CharField(_("方便联系时间"), max_length=50, blank=True)
    # house
    community = models.CharField(_("小区"), max_length=100, blank=True)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    city = models.CharField(_("城市"), max_length=50, blank=True)
    district = models.CharField(_("区县"), max_length=50, blank=True)
    area_sqm = models.DecimalField(
        _("面积（㎡）"),
        max_digits=7,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
    )
    layout = models.CharField(_("户型"), max_length=30, blank=True, help_text=_("如 3室2厅"))
    house_condition = models.CharField(
        _("房屋状况"), max_length=16, choices=HouseCondition.choices, blank=True
    )
    customer_type = models.CharField(
        _("客户类型"), max_length=16, choices=CustomerType.choices, default=CustomerType.NEW_HOUSE
    )
    is_local = models.BooleanField(_("本地客户"), default=True)
    # household / life scene
    has_children = models.BooleanField(_("有小孩"), default=False)
    has_elderly = models.BooleanField(_("有老人"), default=False)
    has_pets = models.BooleanField(_("养宠物"), default=False)
    cooking_frequency = models.CharField(
        _("做饭频率"), max_length=16, choices=CookingFrequency.choices, blank=True
    )
    works_from_home = models.BooleanField(_("居家办公"), default=False)
    # needs
    style_preferences = models.JSONField(_("风格偏好"), default=list, blank=True)
    functional_needs = models.JSONField(_("功能需求"), default=list, blank=True)
    # money
    budget_fen = models.PositiveBigIntegerField(_("预算（分）"), null=True, blank=True)
    budget_tier = models.CharField(
        _("预算档位"), max_length=16, choices=BudgetTier.choices, default=BudgetTier.UNKNOWN, editable=False
    )
    # pipeline
    source_channel = models.CharField(
        _("来源渠道"), max_length=32, choices=SourceChannel.choices, default=SourceChannel.WEBSITE
    )
    intent = models.CharField(_("意向"), max_length=16, choices=Intent.choices, default=Intent.POTENTIAL)
    lost_reason = models.CharField(_("流失原因"), max_length=200, blank=True)
    follow_up_status = models.CharField(
        _("跟进状态"), max_length=16, choices=FollowUpStatus.choices, default=FollowUpStatus.FIRST_CONTACT
    )
    lifecycle = models.CharField(
        _("生命周期"), max_length=24, choices=Lifecycle.choices, default=Lifecycle.LEAD, editable=False
    )
    loyalty = models.CharField(
        _("忠诚度"), max_length=16, choices=Loyalty.choices, default=Loyalty.POTENTIAL, editable=False
    )
    activity = models.CharField(
        _("活跃度"), max_length=16, choices=Activity.choices, default=Activity.ACTIVE, editable=False
    )
    value_fen = models.BigIntegerField(_("客户价值（分）"), default=0, editable=False)
    value_tier = models.CharField(
        _("价值等级"), max_length=16, choices=ValueTier.choices, default=ValueTier.LOW, editable=False
    )
    # facts reported by other apps (inputs of the derived axes)
    measured_at = models.DateTimeField(_("量房时间"), null=True, blank=True, editable=False)
    signed_projects = models.PositiveIntegerField(_("签约项目数"), default=0, editable=False)
    contract_total_fen = models.BigIntegerField(_("合同总额（分）"), default=0, editable=False)
    project_lifecycle = models.CharField(
        max_length=24, choices=Lifecycle.choices, blank=True, editable=False, verbose_name=_("项目阶段")
    )
    credited_referrals = models.PositiveIntegerField(_("成功转介绍数"), default=0, editable=False)
    referral_credit_total_fen = models.BigIntegerField(_("转介绍奖励（分）"), default=0, editable=False)
    is_vip = models.BooleanField(_("VIP"), default=False, editable=False)
    # people, tags, pool
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
    tags = models.JSONField(_("标签"), default=list, blank=True)
    system_tags = models.JSONField(_("系统标签"), default=list, blank=True, editable=False)
    last_touch_at = models.DateTimeField(_("最近跟进"), null=True, blank=True, editable=False)
    next_follow_up_at = models.DateTimeField(_("下次跟进"), null=True, blank=True, editable=False)
    in_pool = models.BooleanField(_("在公海"), default=False, editable=False)
    pooled_at = models.DateTimeField(_("进入公海时间"), null=True, blank=True, editable=False)
    pool_reason = models.CharField(_("进入公海原因"), max_length=100, blank=True, editable=False)
    anonymised_at = models.DateTimeField(_("匿名化时间"), null=True, blank=True, editable=False)
    # A duplicate merged into another customer is archived (never deleted) and points to the survivor.
    merged_into = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("已合并到"),
    )
    merged_at = models.DateTimeField(_("合并时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("客户")
        verbose_name_plural = _("客户")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "phone"], name="customers_customer_tenant_phone_uniq"),
            # The second identity of a person: one customer per WeChat id (when one is recorded).
            models.UniqueConstraint(
                fields=["tenant", "wechat_id"],
                name="customers_customer_tenant_wechat_uniq",
                condition=~models.Q(wechat_id=""),
            ),
        ]
        indexes = [
            # The list's order and keyset position: (created_at, id) < (…) starts the scan in place.
            models.Index(fields=["tenant", "-created_at", "-id"], name="cust_tenant_created_id_idx"),
            models.Index(fields=["tenant", "owner", "-created_at"], name="cust_tenant_owner_idx"),
            models.Index(fields=["tenant", "lifecycle"], name="cust_tenant_lifecycle_idx"),
            models.Index(fields=["tenant", "budget_tier"], name="cust_tenant_budget_idx"),
            models.Index(fields=["tenant", "in_pool"], name="cust_tenant_pool_idx"),
            models.Index(fields=["tenant", "last_touch_at"], name="cust_tenant_touch_idx"),
            # The idle-customer pool scan reads only poolable customers idle past the cutoff, not
            # every un-pooled customer each minute: one partial index per arm of its OR (touched or
            # never touched), holding only customers the scan may pool (a signed or lost customer
            # idle for years is never in range). Plain comparisons, because under RLS only leakproof
            # operators (not COALESCE) may become index conditions.
            models.Index(
                fields=["tenant", "last_touch_at"],
                name="cust_idle_touched_idx",
                condition=models.Q(
                    in_pool=False,
                    owner__isnull=False,
                    anonymised_at__isnull=True,
                    last_touch_at__isnull=False,
                    lifecycle__in=POOLABLE_LIFECYCLES,
                )
                & ~models.Q(intent=Intent.SIGNED)
                & ~models.Q(intent=Intent.LOST),
            ),
            models.Index(
                fields=["tenant", "created_at"],
                name="cust_idle_untouched_idx",
                condition=models.Q(
                    in_pool=False,
                    owner__isnull=False,
                    anonymised_at__isnull=True,
                    last_touch_at__isnull=True,
                    lifecycle__in=POOLABLE_LIFECYCLES,
                )
                & ~models.Q(intent=Intent.SIGNED)
                & ~models.Q(intent=Intent.LOST),
            ),
            # The nightly recompute reads only customers whose activity is stale: per activity, the
            # range of last touch (or creation, never touched) across the silence cutoff.
            models.Index(
                fields=["tenant", "activity", "last_touch_at"],
                name="cust_activity_touch_idx",
                condition=models.Q(last_touch_at__isnull=False),
            ),
            models.Index(
                fields=["tenant", "activity", "created_at"],
                name="cust_activity_untouched_idx",
                condition=models.Q(last_touch_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def style_labels(self) -> list[str]:
        labels = dict(Style.choices)
        return [str(labels.get(value, value)) for value in self.style_preferences or []]

    @property
    def functional_need_labels(self) -> list[str]:
        labels = dict(FunctionalNeed.choices)
        return [str(labels.get(value, value)) for value in self.functional_needs or []]

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)

    @property
    def masked_email(self) -> str:
        return mask_email(self.email)

    @property
    def is_anonymised(self) -> bool:
        return self.anonymised_at is not None

    @property
    def is_merged(self) -> bool:
        return self.merged_at is not None


def mask_phone(phone: str) -> str:
    """138****1234 (national number, middle four hidden)."""
    digits = phone[3:] if phone.startswith("+86") else phone
    if len(digits) < 7:
        return "****"
    return f"{digits[:3]}****{digits[-4:]}"
