"""Engagement: marketing consent (PIPL), campaigns and offers, content pushes, lead scoring."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from customers.models import SourceChannel
from projects.models import Stage

# --- consent (PIPL) ---------------------------------------------------------------------------


class ConsentChannel(models.TextChoices):
    SMS = "sms", _("短信")
    EMAIL = "email", _("邮件")
    WECHAT = "wechat", _("微信（专人发送）")


class ConsentState(models.TextChoices):
    GRANTED = "granted", _("已同意")
    WITHDRAWN = "withdrawn", _("已退订")


class ConsentSource(models.TextChoices):
    INTAKE_FORM = "intake_form", _("留资表单")
    SIGNUP_PAGE = "signup_page", _("活动报名页")
    STAFF = "staff", _("员工录入")
    OPT_OUT_LINK = "opt_out_link", _("退订链接")
    API = "api", _("接口")


class Consent(TenantOwnedModel):
    """The current marketing consent of one customer on one channel (no row = never opted in)."""

    api_sync_fields = ("changed_at", "changed_at")  # append-only: never updated (crm/sync.py)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=ConsentChannel.choices)
    state = models.CharField(_("状态"), max_length=16, choices=ConsentState.choices)
    source = models.CharField(_("来源"), max_length=16, choices=ConsentSource.choices)
    version = models.CharField(_("授权文本版本"), max_length=32)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    changed_at = models.DateTimeField(_("时间"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("营销授权")
        verbose_name_plural = _("营销授权")
        ordering = ["customer_id", "channel"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "customer", "channel"], name="engagement_consent_one_per_channel"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}/{self.channel}: {self.state}"


class ConsentEvent(TenantOwnedModel):
    """History of consent changes; append-only (an UPDATE raises in the database).

    DELETE stays possible so erasing a customer (cascade) still works.
    """

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    channel = models.CharField(_("渠道"), max_length=16, choices=ConsentChannel.choices)
    state = models.CharField(_("状态"), max_length=16, choices=ConsentState.choices)
    source = models.CharField(_("来源"), max_length=16, choices=ConsentSource.choices)
    version = models.CharField(_("授权文本版本"), max_length=32)
    reason = models.CharField(_("原因"), max_length=200, blank=True)
    occurred_at = models.DateTimeField(_("时间"))
    # A name snapshot, not a FK: deleting a user must not rewrite (UPDATE) the history.
    actor_name = models.CharField(_("操作人"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("授权记录")
        verbose_name_plural = _("授权记录")
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "customer", "-occurred_at"], name="eng_consentev_cust_idx"),
        ]


# --- lead scoring -----------------------------------------------------------------------------


class ScoringStatus(models.TextChoices):
    MODEL = "model", _("使用模型")
    RULES_BETTER = "rules_better", _("模型未胜过规则，使用规则")
    TOO_LITTLE_HISTORY = "too_little_history", _("历史数据不足，使用规则")


class LeadScoringModel(TenantOwnedModel):
    """The tenant's own trained model and its honest held-out evaluation (one row per tenant).

    The serialized pipeline lives in this tenant-owned row (RLS applies), never in a shared file.
    """

    status = models.CharField(_("状态"), max_length=24, choices=ScoringStatus.choices)
    reason = models.CharField(_("说明"), max_length=300, blank=True)
    trained_at = models.DateTimeField(_("训练时间"))
    cutoff_at = models.DateTimeField(_("评估切分时间"), null=True, blank=True)
    train_leads = models.PositiveIntegerField(_("训练线索数"), default=0)
    train_positives = models.PositiveIntegerField(default=0)
    test_leads = models.PositiveIntegerField(_("评估线索数"), default=0)
    test_positives = models.PositiveIntegerField(default=0)
    model_auc = models.FloatField(_("模型 AUC"), null=True, blank=True)
    model_precision_top20 = models.FloatField(_("模型前 20% 精确率"), null=True, blank=True)
    rules_auc = models.FloatField(_("规则 AUC"), null=True, blank=True)
    rules_precision_top20 = models.FloatField(_("规则前 20% 精确率"), null=True, blank=True)
    training_seconds = models.FloatField(default=0)
    model_bytes = models.BinaryField(null=True, blank=True, editable=False)
    feature_names = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("线索评分模型")
        verbose_name_plural = _("线索评分模型")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="engagement_scoring_one_per_tenant")]

    @property
    def uses_model(self) -> bool:
        return self.status == ScoringStatus.MODEL


class ScoreMethod(models.TextChoices):
    MODEL = "model", _("模型")
    RULES = "rules", _("规则（预算档位）")


class LeadScore(TenantOwnedModel):
    """The current score of one lead (probability of signing within 90 days) with its top factors."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    lead = models.ForeignKey("customers.Lead", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    score = models.FloatField(_("评分"))
    method = models.CharField(_("方法"), max_length=8, choices=ScoreMethod.choices)
    factors = models.JSONField(_("主要因素"), default=list, blank=True)
    computed_at = models.DateTimeField(_("计算时间"))

    class Meta:
        verbose_name = _("线索评分")
        verbose_name_plural = _("线索评分")
        ordering = ["-score", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "lead"], name="engagement_score_one_per_lead")
        ]
        indexes = [models.Index(fields=["tenant", "-score"], name="eng_leadscore_score_idx")]


# --- campaigns and offers -----------------------------------------------------------------------


class Campaign(TenantOwnedModel):
    """A marketing campaign (home expo, community event, online ad …); money in integer fen."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    name = models.CharField(_("名称"), max_length=100)
    code = models.SlugField(
        _("活动代码"), max_length=32, blank=True, help_text=_("留资接口用 campaign_code 报名到本活动")
    )
    channel = models.CharField(_("渠道"), max_length=32, choices=SourceChannel.choices)
    starts_on = models.DateField(_("开始日期"))
    ends_on = models.DateField(_("结束日期"))
    budget_fen = models.PositiveBigIntegerField(_("预算（分）"), default=0)
    spend_fen = models.PositiveBigIntegerField(_("实际花费（分）"), default=0)
    target_segment = models.ForeignKey(
        "customers.Segment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("目标分群"),
    )
    description = models.TextField(_("说明"), blank=True)
    is_active = models.BooleanField(_("开放报名"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("营销活动")
        verbose_name_plural = _("营销活动")
        ordering = ["-starts_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="engagement_campaign_dates_ordered",
            ),
            models.UniqueConstraint(
                fields=["tenant", "code"],
                condition=~models.Q(code=""),
                name="engagement_campaign_code_uniq",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class OfferKind(models.TextChoices):
    VOUCHER = "voucher", _("代金券")
    PACKAGE = "package", _("套餐")
    DISCOUNT = "discount", _("折扣")


class Offer(TenantOwnedModel):
    """A voucher, package or discount, optionally tied to a campaign; ``quantity`` None = unlimited."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="offers",
        verbose_name=_("活动"),
    )
    name = models.CharField(_("名称"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=OfferKind.choices)
    terms = models.TextField(_("使用条款"), blank=True)
    value_fen = models.PositiveBigIntegerField(_("面值（分）"), default=0)
    valid_from = models.DateField(_("有效期自"))
    valid_until = models.DateField(_("有效期至"))
    quantity = models.PositiveIntegerField(_("数量"), null=True, blank=True)
    package = models.ForeignKey(
        "quotes.Package",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("套餐"),
        help_text=_("套餐优惠核销到报价单时加入此套餐"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("优惠")
        verbose_name_plural = _("优惠")
        ordering = ["-valid_from", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__gte=models.F("valid_from")),
                name="engagement_offer_dates_ordered",
            )
        ]

    def __str__(self) -> str:
        return self.name


class SignupSource(models.TextChoices):
    PAGE = "page", _("报名页")
    STAFF = "staff", _("员工录入")
    API = "api", _("接口")


class CampaignSignup(TenantOwnedModel):
    """A customer signed up for a campaign (once per campaign); check-in at the event is recorded here."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="signups")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    lead = models.ForeignKey(
        "customers.Lead", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    source = models.CharField(max_length=8, choices=SignupSource.choices, default=SignupSource.PAGE)
    signed_up_at = models.DateTimeField(_("报名时间"))
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("活动报名")
        verbose_name_plural = _("活动报名")
        ordering = ["-signed_up_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "campaign", "customer"], name="engagement_signup_once")
        ]
        indexes = [models.Index(fields=["tenant", "lead"], name="eng_signup_lead_idx")]


class Redemption(TenantOwnedModel):
    """An offer redeemed by a customer against a quotation or contract (once per offer and customer).

    Redeemed against a quotation, ``project`` is filled in when that quotation's project signs its
    contract, so the campaign's signed figures count it (once: see ``campaign_figures``).
    """

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="redemptions")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    quotation = models.ForeignKey(
        "quotes.Quotation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("报价单"),
    )
    project = models.ForeignKey(
        "projects.Project", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    applied_discount_fen = models.BigIntegerField(_("抵扣金额（分）"), default=0)
    redeemed_at = models.DateTimeField(_("核销时间"))
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("优惠核销")
        verbose_name_plural = _("优惠核销")
        ordering = ["-redeemed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "offer", "customer"], name="engagement_redeem_once"),
            models.CheckConstraint(
                condition=models.Q(applied_discount_fen__gte=0),
                name="engagement_redeem_discount_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "quotation"], name="eng_redeem_quotation_idx"),
        ]


# --- content library and push rules ---------------------------------------------------------------


class ContentKind(models.TextChoices):
    ARTICLE = "article", _("文章")
    DESIGN_CASE = "design_case", _("设计案例")
    MATERIAL_LIST = "material_list", _("材料清单")
    OFFER = "offer", _("优惠")


class ContentItem(TenantOwnedModel):
    """One piece of content to push (tags such as 儿童房, 适老化, 环保材料 match the audience)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    title = models.CharField(_("标题"), max_length=100)
    kind = models.CharField(_("类型"), max_length=16, choices=ContentKind.choices)
    summary = models.CharField(_("摘要"), max_length=300, blank=True)
    url = models.URLField(_("链接"), blank=True)
    tags = models.JSONField(_("标签"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("内容")
        verbose_name_plural = _("内容")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class PushPeriod(models.TextChoices):
    ONCE = "once", _("每位客户仅一次")
    MONTHLY = "monthly", _("每月一次")
    WEEKLY = "weekly", _("每周一次")


class PushTrigger(models.TextChoices):
    SCHEDULE = "schedule", _("定时（扫描受众）")
    TAG_ADDED = "tag_added", _("客户获得标签")
    STAGE_REACHED = "stage_reached", _("项目到达阶段")
    YEAR_VISIT = "year_visit", _("1 年回访完成")


class PushRule(TenantOwnedModel):
    """Who gets which item on which channel, how often, and which share is held out as control.

    ``schedule`` rules are run by a beat scan when ``next_run_at`` is due; event rules run for the
    one customer an outbox event names (the audience conditions then only narrow it).
    """

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    name = models.CharField(_("名称"), max_length=100)
    item = models.ForeignKey(ContentItem, on_delete=models.PROTECT, related_name="+", verbose_name=_("内容"))
    channel = models.CharField(_("渠道"), max_length=16, choices=ConsentChannel.choices)
    segment = models.ForeignKey(
        "customers.Segment", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    audience_tags = models.JSONField(_("客户标签（任一）"), default=list, blank=True)
    audience_lifecycles = models.JSONField(_("生命周期（任一）"), default=list, blank=True)
    period = models.CharField(_("频率"), max_length=8, choices=PushPeriod.choices, default=PushPeriod.ONCE)
    max_per_customer_per_week = models.PositiveSmallIntegerField(_("每位客户每周最多推送"), default=2)
    quiet_start = models.TimeField(_("免打扰开始"), default=datetime.time(21, 0))
    quiet_end = models.TimeField(_("免打扰结束"), default=datetime.time(9, 0))
    control_percent = models.PositiveSmallIntegerField(_("对照组比例（%）"), default=10)
    trigger = models.CharField(
        _("触发方式"), max_length=16, choices=PushTrigger.choices, default=PushTrigger.SCHEDULE
    )
    trigger_tag = models.CharField(_("触发标签"), max_length=30, blank=True)
    trigger_stage = models.CharField(_("触发阶段"), max_length=32, blank=True, choices=Stage.choices)
    next_run_at = models.DateTimeField(_("下次扫描"), null=True, blank=True)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("推送规则")
        verbose_name_plural = _("推送规则")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(control_percent__lte=90), name="engagement_rule_control_max"
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "next_run_at"],
                condition=models.Q(is_active=True, trigger="schedule"),
                name="eng_rule_due_idx",
            )
        ]

    def __str__(self) -> str:
        return self.name


class DispatchStatus(models.TextChoices):
    PENDING = "pending", _("等待免打扰结束")
    SENT = "sent", _("已发送")
    HELD_OUT = "held_out", _("对照组（不发送）")
    SKIPPED = "skipped", _("未发送")


class SkipReason(models.TextChoices):
    OPTED_OUT = "opted_out", _("已退订或未授权")
    NO_ADDRESS = "no_address", _("没有邮箱地址")


class PushDispatch(TenantOwnedModel):
    """Exactly once per (rule, customer, period): inserted in the transaction that decides the send.

    ``held_out`` rows are the control group: decided, recorded, never sent (lift is measured).
    ``pending`` rows were decided in quiet hours and are sent by the beat scan after ``send_after``.
    ``skipped`` rows say why in ``skip_reason``; one skipped for want of an e-mail address is sent by
    a later scan of the same period once the address is on file (the row changes, it is not added).
    """

    rule = models.ForeignKey(PushRule, on_delete=models.CASCADE, related_name="dispatches")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    period_key = models.CharField(max_length=16)
    held_out = models.BooleanField(default=False)
    decided_at = models.DateTimeField()
    status = models.CharField(
        _("状态"), max_length=16, choices=DispatchStatus.choices, default=DispatchStatus.SENT
    )
    trigger_ref = models.CharField(_("触发来源"), max_length=60, blank=True)
    skip_reason = models.CharField(_("未发送原因"), max_length=16, choices=SkipReason.choices, blank=True)
    send_after = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    opened_at = models.DateTimeField(_("首次打开"), null=True, blank=True)
    open_count = models.PositiveIntegerField(_("打开次数"), default=0)
    clicked_at = models.DateTimeField(_("首次点击"), null=True, blank=True)
    click_count = models.PositiveIntegerField(_("点击次数"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "rule", "customer", "period_key"], name="engagement_push_once_per_period"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "customer", "decided_at"], name="eng_push_cust_idx"),
            models.Index(
                fields=["tenant", "send_after"],
                condition=models.Q(status="pending"),
                name="eng_push_pending_idx",
            ),
        ]
