"""Customers and leads of one decoration company."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.core.validators import MinValueValidator
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
            # The idle-customer pool scan reads only customers idle past the cutoff, not every
            # un-pooled customer each minute: one partial index per arm of its OR (touched or
            # never touched). Plain comparisons, because under RLS only leakproof operators (not
            # COALESCE) may become index conditions.
            models.Index(
                fields=["tenant", "last_touch_at"],
                name="cust_idle_touched_idx",
                condition=models.Q(
                    in_pool=False,
                    owner__isnull=False,
                    anonymised_at__isnull=True,
                    last_touch_at__isnull=False,
                ),
            ),
            models.Index(
                fields=["tenant", "created_at"],
                name="cust_idle_untouched_idx",
                condition=models.Q(
                    in_pool=False,
                    owner__isnull=False,
                    anonymised_at__isnull=True,
                    last_touch_at__isnull=True,
                ),
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


class LeadStatus(models.TextChoices):
    OPEN = "open", _("待响应")
    RESPONDED = "responded", _("已响应")
    POOLED = "pooled", _("已进入公海")


class Lead(TenantOwnedModel):
    """One inquiry. The first human follow-up stops its SLA clock and records the response time."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="leads", verbose_name=_("客户")
    )
    source_channel = models.CharField(_("来源渠道"), max_length=32, choices=SourceChannel.choices)
    received_at = models.DateTimeField(_("接收时间"))
    clock_started_at = models.DateTimeField(_("计时开始"), help_text=_("营业时间外的线索从下次开门起计时"))
    first_response_due_at = models.DateTimeField(_("首次响应截止"))
    pool_due_at = models.DateTimeField(_("进入公海时间"))
    received_outside_hours = models.BooleanField(_("非营业时间到达"), default=False)
    note = models.TextField(_("备注"), blank=True)
    referral_code = models.CharField(_("推荐码"), max_length=64, blank=True)
    status = models.CharField(_("状态"), max_length=16, choices=LeadStatus.choices, default=LeadStatus.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_leads",
        verbose_name=_("负责销售"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("创建人"),
    )
    first_responded_at = models.DateTimeField(_("首次响应时间"), null=True, blank=True)
    first_responder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("首次响应人"),
    )
    response_seconds = models.PositiveIntegerField(_("响应用时（秒）"), null=True, blank=True)
    sla_breached = models.BooleanField(_("已超时"), default=False)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("线索")
        verbose_name_plural = _("线索")
        ordering = ["first_response_due_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "status", "first_response_due_at"], name="lead_tenant_status_due_idx"
            ),
            models.Index(fields=["tenant", "status", "pool_due_at"], name="lead_tenant_status_pool_idx"),
            models.Index(fields=["tenant", "received_at"], name="lead_tenant_received_idx"),
            models.Index(fields=["tenant", "customer"], name="lead_tenant_customer_idx"),
            # The SLA breach scan: only open, not yet breached leads (grows with due work only).
            models.Index(
                fields=["tenant", "first_response_due_at"],
                name="lead_sla_due_idx",
                condition=models.Q(status="open", sla_breached=False),
            ),
        ]

    def __str__(self) -> str:
        return str(_("线索 #%(pk)s") % {"pk": self.pk})


class LeadSlaBreach(TenantOwnedModel):
    """Dispatch row of a breach: unique per lead, inserted in the transaction that notifies."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="breaches", verbose_name=_("线索"))
    detected_at = models.DateTimeField(auto_now_add=True, verbose_name=_("发现时间"))
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责人"),
    )
    reassigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("改派给"),
    )
    notified = models.PositiveIntegerField(default=0, verbose_name=_("已通知人数"))

    class Meta:
        verbose_name = _("线索超时记录")
        verbose_name_plural = _("线索超时记录")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "lead"], name="customers_breach_once_per_lead")
        ]


class FollowUpKind(models.TextChoices):
    CALL = "call", _("电话")
    WECHAT = "wechat", _("微信")
    VISIT = "visit", _("到店/上门")
    MESSAGE = "message", _("短信/留言")
    MEASURE = "measure", _("量房")
    DESIGN = "design", _("方案沟通")
    NOTE = "note", _("内部备注")


HUMAN_FOLLOW_UP_KINDS = {"call", "wechat", "visit", "message", "measure", "design"}


class FollowUpOutcome(models.TextChoices):
    REACHED = "reached", _("已联系上")
    NO_ANSWER = "no_answer", _("未接通")
    APPOINTMENT = "appointment", _("已约量房/到店")
    NOT_INTERESTED = "not_interested", _("暂无需求")
    OTHER = "other", _("其他")


class FollowUp(TenantOwnedModel):
    """One touch on the customer's timeline; may schedule the next follow-up (reminded once)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="follow_ups", verbose_name=_("客户")
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("记录人"),
    )
    kind = models.CharField(_("方式"), max_length=16, choices=FollowUpKind.choices)
    content = models.TextField(_("内容"))
    outcome = models.CharField(_("结果"), max_length=16, choices=FollowUpOutcome.choices, blank=True)
    occurred_at = models.DateTimeField(_("时间"))
    next_follow_up_at = models.DateTimeField(_("下次跟进时间"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("提醒时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("跟进记录")
        verbose_name_plural = _("跟进记录")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "customer", "-occurred_at"], name="fu_tenant_customer_idx"),
            models.Index(fields=["tenant", "next_follow_up_at"], name="fu_tenant_next_idx"),
            # The reminder scan: follow-ups not yet reminded (reminded ones leave the index).
            models.Index(
                fields=["tenant", "next_follow_up_at"],
                name="fu_reminder_due_idx",
                condition=models.Q(reminded_at__isnull=True, next_follow_up_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.occurred_at:%Y-%m-%d}"


class FollowUpReminder(TenantOwnedModel):
    """Dispatch row: a due next-follow-up is reminded exactly once."""

    follow_up = models.ForeignKey(
        FollowUp, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("跟进记录")
    )
    sent_at = models.DateTimeField(auto_now_add=True, verbose_name=_("发送时间"))

    class Meta:
        verbose_name = _("跟进提醒")
        verbose_name_plural = _("跟进提醒")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "follow_up"], name="customers_reminder_once_per_follow_up"
            )
        ]


class PoolClaim(TenantOwnedModel):
    """Who took a customer out of the lead pool (公海), and when."""

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="pool_claims", verbose_name=_("客户")
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("领取人")
    )
    claimed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("领取时间"))
    pooled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("进入公海时间"))

    class Meta:
        verbose_name = _("公海领取记录")
        verbose_name_plural = _("公海领取记录")
        ordering = ["-claimed_at"]
        constraints = [
            # One claim per pooling: two users racing for the same pooled customer cannot both win.
            models.UniqueConstraint(
                fields=["tenant", "customer", "pooled_at"], name="customers_claim_once_per_pooling"
            )
        ]


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
