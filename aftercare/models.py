"""Aftercare of one tenant: maintenance plans and their reminders, visits, service tickets, surveys."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel

DEFAULT_REMINDER_OFFSETS = [30, 7]
DEFAULT_ESCALATION_DAYS = 30


class TicketCategory(models.TextChoices):
    PLUMBING = "plumbing", _("水路")
    ELECTRICAL = "electrical", _("电路")
    WALLS = "walls", _("墙面")
    DOORS_WINDOWS = "doors_windows", _("门窗")
    TILES = "tiles", _("瓷砖")
    WATERPROOFING = "waterproofing", _("防水")
    OTHER = "other", _("其他")


class TicketPriority(models.TextChoices):
    URGENT = "urgent", _("紧急")
    HIGH = "high", _("高")
    NORMAL = "normal", _("普通")
    LOW = "low", _("低")


# Defaults a tenant can override in AftercareSettings (years per category, hours per priority).
DEFAULT_WARRANTY_YEARS = {"general": 2, "waterproofing": 5}
DEFAULT_SLA_HOURS = {
    "urgent": {"first_response": 2, "resolution": 24},
    "high": {"first_response": 4, "resolution": 72},
    "normal": {"first_response": 24, "resolution": 168},
    "low": {"first_response": 48, "resolution": 336},
}


def _default_offsets() -> list[int]:
    return list(DEFAULT_REMINDER_OFFSETS)


def _default_warranty() -> dict:
    return dict(DEFAULT_WARRANTY_YEARS)


def _default_sla() -> dict:
    return {key: dict(value) for key, value in DEFAULT_SLA_HOURS.items()}


class AftercareSettings(TenantOwnedModel):
    """One row per tenant: reminder offsets, escalation delay, warranty periods, ticket SLAs."""

    reminder_offsets_days = models.JSONField(
        _("提醒提前天数"), default=_default_offsets, help_text=_("到期前多少天提醒，如 [30, 7]")
    )
    escalation_days_overdue = models.PositiveIntegerField(_("逾期多少天升级给经理"), default=30)
    warranty_years = models.JSONField(
        _("保修年限"),
        default=_default_warranty,
        help_text=_('按类别的保修年限，general 为默认，如 {"general": 2, "waterproofing": 5}'),
    )
    sla_hours = models.JSONField(_("工单时限（小时）"), default=_default_sla)
    survey_link_days = models.PositiveIntegerField(_("问卷链接有效天数"), default=14)

    class Meta:
        verbose_name = _("售后设置")
        verbose_name_plural = _("售后设置")
        constraints = [models.UniqueConstraint(fields=["tenant"], name="aftercare_settings_tenant_uniq")]

    def __str__(self) -> str:
        return str(_("售后设置"))

    def offsets(self) -> list[int]:
        return sorted({int(day) for day in self.reminder_offsets_days if int(day) > 0}, reverse=True)

    def warranty_years_for(self, category: str) -> int:
        years = self.warranty_years or {}
        return int(years.get(category, years.get("general", DEFAULT_WARRANTY_YEARS["general"])))

    def sla_for(self, priority: str) -> dict:
        hours = (self.sla_hours or {}).get(priority) or DEFAULT_SLA_HOURS[priority]
        return {"first_response": int(hours["first_response"]), "resolution": int(hours["resolution"])}


class PlanKind(TenantOwnedModel):
    """A tenant-editable kind of maintenance plan (1/3/5 years by default; a 6-month check can be added)."""

    code = models.SlugField(_("代码"), max_length=32)
    name = models.CharField(_("名称"), max_length=50)
    months_after_handover = models.PositiveIntegerField(_("交付后月数"))
    checklist = models.JSONField(_("检查清单模板"), default=list, blank=True)
    creates_renovation_lead = models.BooleanField(
        _("回访后生成翻新线索"), default=False, help_text=_("如 5 年回访：全屋检查并提出局部翻新方案")
    )
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("回访类型")
        verbose_name_plural = _("回访类型")
        ordering = ["months_after_handover", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "code"], name="aftercare_plankind_code_uniq")
        ]

    def __str__(self) -> str:
        return self.name


class PlanStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("待回访")
    COMPLETED = "completed", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class MaintenancePlan(TenantOwnedModel):
    """One scheduled maintenance visit of a handed-over project (one per project and kind)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="+", verbose_name=_("项目")
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    kind = models.ForeignKey(PlanKind, on_delete=models.PROTECT, related_name="plans", verbose_name=_("类型"))
    due_on = models.DateField(_("到期日"))
    status = models.CharField(
        _("状态"), max_length=16, choices=PlanStatus.choices, default=PlanStatus.SCHEDULED
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("负责客服"),
    )
    checklist = models.JSONField(_("检查清单"), default=list, blank=True)
    customer_reminder_consent = models.BooleanField(_("客户同意短信提醒"), default=False)
    customer_reminder_consent_at = models.DateTimeField(_("同意时间"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("维保计划")
        verbose_name_plural = _("维保计划")
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "project", "kind"], name="aftercare_plan_project_kind_uniq"
            ),
        ]
        indexes = [
            # The daily reminder scan: open plans due in a date range.
            models.Index(
                fields=["tenant", "due_on"],
                name="aftercare_plan_open_due_idx",
                condition=Q(status="scheduled"),
            ),
            models.Index(fields=["tenant", "assigned_to", "due_on"], name="aftercare_plan_assignee_idx"),
            models.Index(fields=["tenant", "customer"], name="aftercare_plan_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} · {self.project}"

    @property
    def is_open(self) -> bool:
        return self.status == PlanStatus.SCHEDULED


class DispatchKind(models.TextChoices):
    REMINDER = "reminder", _("到期提醒")
    ESCALATION = "escalation", _("逾期升级")


class ReminderDispatch(TenantOwnedModel):
    """The decision to remind about one plan at one offset; the unique constraint makes it exactly once.

    ``offset_days`` > 0: days before due (reminder); < 0: days after due (escalation to managers).
    Inserted in the same transaction as the decision; the send runs after commit and stamps ``sent_at``.
    """

    plan = models.ForeignKey(MaintenancePlan, on_delete=models.CASCADE, related_name="dispatches")
    offset_days = models.IntegerField(_("偏移天数"))
    kind = models.CharField(_("类型"), max_length=16, choices=DispatchKind.choices)
    decided_at = models.DateTimeField(_("决定时间"), auto_now_add=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    customer_sms_sent = models.BooleanField(_("已短信客户"), default=False)

    class Meta:
        verbose_name = _("提醒记录")
        verbose_name_plural = _("提醒记录")
        constraints = [
            models.UniqueConstraint(fields=["tenant", "plan", "offset_days"], name="aftercare_dispatch_once"),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "id"], name="aftercare_dispatch_unsent_idx", condition=Q(sent_at=None)
            )
        ]


class VisitStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("已预约")
    COMPLETED = "completed", _("已完成")


class Visit(TenantOwnedModel):
    """A technician's visit for a plan. Completing it closes the plan."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    plan = models.ForeignKey(
        MaintenancePlan, on_delete=models.PROTECT, related_name="visits", verbose_name=_("计划")
    )
    project = models.ForeignKey("projects.Project", on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    scheduled_at = models.DateTimeField(_("预约时间"))
    technician = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("技术员"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=VisitStatus.choices, default=VisitStatus.SCHEDULED
    )
    checklist_results = models.JSONField(_("检查结果"), default=list, blank=True)
    findings = models.TextField(_("发现问题"), blank=True)
    customer_confirmed = models.BooleanField(_("客户已确认"), default=False)
    customer_signature = models.CharField(_("客户签名"), max_length=50, blank=True)
    satisfaction = models.PositiveSmallIntegerField(
        _("满意度（1–5）"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    renovation_interest = models.BooleanField(_("有翻新意向"), default=False)
    renovation_lead_id = models.BigIntegerField(_("翻新线索"), null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("回访")
        verbose_name_plural = _("回访")
        ordering = ["-scheduled_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="aftercare_visit_satisfaction_range",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "plan"], name="aftercare_visit_plan_idx"),
            models.Index(fields=["tenant", "technician", "scheduled_at"], name="aftercare_visit_tech_idx"),
            models.Index(fields=["tenant", "customer"], name="aftercare_visit_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.plan} @ {self.scheduled_at:%Y-%m-%d}"


class VisitPhoto(TenantOwnedModel):
    visit = models.ForeignKey(Visit, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(_("照片"), upload_to="aftercare/visits/%Y/%m/")
    caption = models.CharField(_("说明"), max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("回访照片")
        verbose_name_plural = _("回访照片")
        indexes = [models.Index(fields=["tenant", "visit"], name="aftercare_visitphoto_visit_idx")]


class TicketStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    ASSIGNED = "assigned", _("已分派")
    IN_PROGRESS = "in_progress", _("处理中")
    RESOLVED = "resolved", _("已解决")
    CLOSED = "closed", _("已关闭")
    REOPENED = "reopened", _("已重开")


# The ticket workflow: which status may follow which.
TICKET_TRANSITIONS: dict[str, set[str]] = {
    TicketStatus.OPEN: {TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.CLOSED},
    TicketStatus.ASSIGNED: {TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED, TicketStatus.CLOSED},
    TicketStatus.IN_PROGRESS: {TicketStatus.RESOLVED},
    TicketStatus.RESOLVED: {TicketStatus.CLOSED, TicketStatus.REOPENED},
    TicketStatus.CLOSED: {TicketStatus.REOPENED},
    TicketStatus.REOPENED: {TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED},
}


class TicketSource(models.TextChoices):
    STAFF = "staff", _("员工录入")
    API = "api", _("接口")
    CUSTOMER = "customer", _("客户进度页")


class ServiceTicket(TenantOwnedModel):
    """A repair or warranty request with first-response and resolution due times by priority."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(
        "projects.Project", on_delete=models.PROTECT, related_name="+", verbose_name=_("项目")
    )
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    category = models.CharField(_("类别"), max_length=20, choices=TicketCategory.choices)
    description = models.TextField(_("问题描述"))
    materials = models.CharField(_("涉及材料"), max_length=200, blank=True)
    priority = models.CharField(
        _("优先级"), max_length=10, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    source = models.CharField(
        _("来源"), max_length=16, choices=TicketSource.choices, default=TicketSource.STAFF
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("处理人"),
    )
    under_warranty = models.BooleanField(_("在保修期内"), default=False)
    warranty_until = models.DateField(_("保修截止"), null=True, blank=True)
    first_response_due_at = models.DateTimeField(_("首次响应时限"))
    resolution_due_at = models.DateTimeField(_("解决时限"))
    first_responded_at = models.DateTimeField(_("首次响应时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("解决时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("售后工单")
        verbose_name_plural = _("售后工单")
        ordering = ["resolution_due_at", "id"]
        indexes = [
            models.Index(
                fields=["tenant", "first_response_due_at"],
                name="aftercare_ticket_frd_idx",
                condition=Q(first_responded_at=None),
            ),
            models.Index(
                fields=["tenant", "resolution_due_at"],
                name="aftercare_ticket_rd_idx",
                condition=Q(resolved_at=None),
            ),
            models.Index(fields=["tenant", "customer"], name="aftercare_ticket_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_category_display()}"

    @property
    def is_active(self) -> bool:
        return self.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED)


class TicketPhoto(TenantOwnedModel):
    ticket = models.ForeignKey(ServiceTicket, on_delete=models.CASCADE, related_name="photos")
    image = models.ImageField(_("照片"), upload_to="aftercare/tickets/%Y/%m/")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("工单照片")
        verbose_name_plural = _("工单照片")
        indexes = [models.Index(fields=["tenant", "ticket"], name="aftercare_ticketphoto_idx")]


class TicketEvent(TenantOwnedModel):
    """Full ticket history: every status change, assignment and note (append-only)."""

    ticket = models.ForeignKey(ServiceTicket, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("工单记录")
        verbose_name_plural = _("工单记录")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["tenant", "ticket", "created_at"], name="aftercare_ticketevent_idx")]

    @property
    def from_status_label(self) -> str:
        return str(TicketStatus(self.from_status).label) if self.from_status in TicketStatus.values else ""

    @property
    def to_status_label(self) -> str:
        return str(TicketStatus(self.to_status).label) if self.to_status in TicketStatus.values else ""


class SlaKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("首次响应超时")
    RESOLUTION = "resolution", _("解决超时")


class TicketSlaAlert(TenantOwnedModel):
    """A breach alert sent once per ticket and SLA kind (the unique constraint is the 'once')."""

    ticket = models.ForeignKey(ServiceTicket, on_delete=models.CASCADE, related_name="sla_alerts")
    kind = models.CharField(max_length=20, choices=SlaKind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "ticket", "kind"], name="aftercare_sla_alert_once"),
        ]


class SurveyKind(models.TextChoices):
    CSAT = "csat", _("满意度（1–5）")
    NPS = "nps", _("推荐意愿（0–10）")


class SurveyTrigger(models.TextChoices):
    DESIGN_APPROVAL = "design_approval", _("设计确认")
    PLUMBING_ELECTRICAL = "plumbing_electrical", _("水电验收")
    HANDOVER = "handover", _("交付")
    VISIT = "visit", _("回访")
    TICKET = "ticket", _("工单解决")
    YEARLY = "yearly", _("年度")


class Survey(TenantOwnedModel):
    """A one-time survey link sent to a customer. The token starts with the tenant id (see services)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", verbose_name=_("客户")
    )
    project = models.ForeignKey(
        "projects.Project",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("项目"),
    )
    kind = models.CharField(_("类型"), max_length=8, choices=SurveyKind.choices)
    trigger = models.CharField(_("触发"), max_length=24, choices=SurveyTrigger.choices)
    visit = models.ForeignKey(Visit, on_delete=models.SET_NULL, null=True, blank=True, related_name="surveys")
    ticket = models.ForeignKey(
        ServiceTicket, on_delete=models.SET_NULL, null=True, blank=True, related_name="surveys"
    )
    token = models.CharField(max_length=64, editable=False)
    expires_at = models.DateTimeField(_("链接失效时间"))
    score = models.PositiveSmallIntegerField(_("评分"), null=True, blank=True)
    comment = models.TextField(_("意见"), blank=True)
    answered_at = models.DateTimeField(_("回答时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    dedupe_key = models.CharField(max_length=100, editable=False)

    class Meta:
        verbose_name = _("问卷")
        verbose_name_plural = _("问卷")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "token"], name="aftercare_survey_token_uniq"),
            models.UniqueConstraint(fields=["tenant", "dedupe_key"], name="aftercare_survey_dedupe_uniq"),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__lte=10), name="aftercare_survey_score_range"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "kind", "answered_at"], name="aftercare_survey_kind_idx"),
            models.Index(fields=["tenant", "customer"], name="aftercare_survey_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.customer}"

    @property
    def max_score(self) -> int:
        return 5 if self.kind == SurveyKind.CSAT else 10

    @property
    def min_score(self) -> int:
        return 1 if self.kind == SurveyKind.CSAT else 0
