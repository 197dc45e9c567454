"""Decoration projects of one tenant."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel

# --- Stages ---------------------------------------------------------------------------------


class Stage(models.TextChoices):
    """The fixed stage order of every project (tenants rename them and set durations, never reorder)."""

    CONSULTATION = "consultation", _("咨询")
    MEASUREMENT = "measurement", _("量房")
    DESIGN = "design", _("设计")
    QUOTATION = "quotation", _("报价")
    CONTRACT_SIGNED = "contract_signed", _("签约")
    DEMOLITION = "demolition", _("拆改")
    PLUMBING_ELECTRICAL = "plumbing_electrical", _("水电")
    MASONRY = "masonry", _("泥瓦")
    CARPENTRY = "carpentry", _("木工")
    PAINTING = "painting", _("油漆")
    INSTALLATION = "installation", _("安装")
    COMPLETION_ACCEPTANCE = "completion_acceptance", _("竣工验收")
    HANDOVER = "handover", _("交付")


STAGE_ORDER: list[str] = list(Stage.values)
DEFAULT_PLANNED_DAYS: dict[str, int] = {
    Stage.CONSULTATION: 7,
    Stage.MEASUREMENT: 5,
    Stage.DESIGN: 14,
    Stage.QUOTATION: 7,
    Stage.CONTRACT_SIGNED: 7,
    Stage.DEMOLITION: 7,
    Stage.PLUMBING_ELECTRICAL: 10,
    Stage.MASONRY: 15,
    Stage.CARPENTRY: 12,
    Stage.PAINTING: 10,
    Stage.INSTALLATION: 7,
    Stage.COMPLETION_ACCEPTANCE: 5,
    Stage.HANDOVER: 0,
}
DESIGN_STAGES = frozenset({Stage.CONSULTATION, Stage.MEASUREMENT, Stage.DESIGN, Stage.QUOTATION})
CONSTRUCTION_STAGES = frozenset(
    {
        Stage.DEMOLITION,
        Stage.PLUMBING_ELECTRICAL,
        Stage.MASONRY,
        Stage.CARPENTRY,
        Stage.PAINTING,
        Stage.INSTALLATION,
    }
)
# Stages a project manager may move between (construction plus its start and its acceptance).
PM_STAGES = CONSTRUCTION_STAGES | {Stage.CONTRACT_SIGNED, Stage.COMPLETION_ACCEPTANCE}


def stage_index(stage: str) -> int:
    return STAGE_ORDER.index(stage)


class Project(TenantOwnedModel):
    """A decoration project of one customer (a customer may have several over the years)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="projects", verbose_name=_("客户")
    )
    name = models.CharField(_("项目名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    area_sqm = models.DecimalField(_("面积（㎡）"), max_digits=8, decimal_places=2, null=True, blank=True)
    contract_number = models.CharField(_("合同编号"), max_length=50, null=True, blank=True)
    contract_amount_fen = models.PositiveBigIntegerField(_("合同金额（分）"), null=True, blank=True)
    signed_on = models.DateField(_("签约日期"), null=True, blank=True)
    handed_over_on = models.DateField(_("交付日期"), null=True, blank=True)
    designer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("设计师"),
    )
    project_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("项目经理"),
    )
    supervisor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("监理"),
    )
    service_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("客服负责人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    style = models.CharField(_("风格"), max_length=30, blank=True)
    planned_start_on = models.DateField(_("计划开工"), null=True, blank=True)
    planned_end_on = models.DateField(_("计划完工"), null=True, blank=True)
    stage = models.CharField(_("当前阶段"), max_length=32, choices=Stage.choices, default=Stage.CONSULTATION)
    stage_entered_at = models.DateTimeField(_("进入阶段时间"), default=timezone.now)
    construction_started_on = models.DateField(_("开工日期"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("合同取消时间"), null=True, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("项目")
        verbose_name_plural = _("项目")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "contract_number"], name="projects_project_tenant_contract_uniq"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "customer"], name="proj_tenant_customer_idx"),
            models.Index(fields=["tenant", "stage"], name="proj_tenant_stage_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """A row created already signed or handed over (imports, other apps' demos) starts in that stage."""
        if self._state.adding:
            if self.handed_over_on is not None:
                self.stage = Stage.HANDOVER
            elif self.signed_on is not None and stage_index(self.stage) < stage_index(Stage.CONTRACT_SIGNED):
                self.stage = Stage.CONTRACT_SIGNED
        super().save(*args, **kwargs)


class StageSetting(TenantOwnedModel):
    """A tenant's name and planned duration for one fixed stage (missing row = defaults)."""

    stage = models.CharField(_("阶段"), max_length=32, choices=Stage.choices)
    name = models.CharField(_("名称"), max_length=30)
    planned_days = models.PositiveSmallIntegerField(_("计划天数"))

    class Meta:
        verbose_name = _("阶段模板")
        verbose_name_plural = _("阶段模板")
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "stage"], name="projects_stagesetting_tenant_stage_uniq"
            )
        ]

    def __str__(self) -> str:
        return self.name


DEFAULT_SIGNING_STEPS = ["measurement", "accepted_quotation"]


def default_signing_steps() -> list[str]:
    return list(DEFAULT_SIGNING_STEPS)


class SigningPolicy(TenantOwnedModel):
    """Per tenant: the steps required before a contract may be signed (keys of the requirements
    registered in ``projects.extensions``); a manager may override them with a reason. No row =
    the defaults (measurement done and an accepted quotation)."""

    required_steps = models.JSONField(_("签约前必须完成的步骤"), default=default_signing_steps, blank=True)

    class Meta:
        verbose_name = _("签约前置条件")
        verbose_name_plural = _("签约前置条件")
        constraints = [
            models.UniqueConstraint(fields=["tenant"], name="projects_signingpolicy_one_per_tenant")
        ]


class StageHistory(TenantOwnedModel):
    """Every stage change: who, when, from, to, why (kept forever)."""

    api_sync_fields = ("changed_at", "changed_at")  # append-only: never updated (crm/sync.py)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="stage_history")
    from_stage = models.CharField(_("原阶段"), max_length=32, choices=Stage.choices, blank=True)
    to_stage = models.CharField(_("新阶段"), max_length=32, choices=Stage.choices)
    direction = models.CharField(_("方向"), max_length=10, default="forward")
    reason = models.CharField(_("原因"), max_length=300, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("操作人"),
    )
    changed_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("阶段记录")
        verbose_name_plural = _("阶段记录")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["tenant", "project", "-changed_at"], name="proj_stagehist_idx")]


class AcceptanceKind(models.TextChoices):
    HIDDEN_WORKS = "hidden_works", _("水电隐蔽工程验收")
    COMPLETION = "completion", _("竣工验收")


class Acceptance(TenantOwnedModel):
    """A checkpoint acceptance: passed hidden works gate masonry, passed completion gates handover."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="acceptances")
    kind = models.CharField(_("验收类型"), max_length=20, choices=AcceptanceKind.choices)
    passed = models.BooleanField(_("通过"))
    notes = models.TextField(_("说明"), blank=True)
    accepted_on = models.DateField(_("验收日期"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("记录人"),
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("节点验收")
        verbose_name_plural = _("节点验收")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "project", "kind"], name="proj_acceptance_idx")]


class StageOverdueAlert(TenantOwnedModel):
    """Dispatch row: one alert per stage entry, inserted in the same transaction as the decision."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="overdue_alerts")
    stage = models.CharField(max_length=32, choices=Stage.choices)
    stage_entered_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "project", "stage", "stage_entered_at"], name="proj_overdue_alert_once"
            )
        ]


# --- Design plans ---------------------------------------------------------------------------


class DesignPlan(TenantOwnedModel):
    """One of 2–3 design options; every revision is kept in DesignPlanRevision."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="design_plans")
    label = models.CharField(_("方案"), max_length=20)
    title = models.CharField(_("标题"), max_length=100)
    style = models.CharField(_("风格"), max_length=30, blank=True)
    cost_min_fen = models.PositiveBigIntegerField(_("预算下限（分）"))
    cost_max_fen = models.PositiveBigIntegerField(_("预算上限（分）"))
    notes = models.TextField(_("说明"), blank=True)
    version = models.PositiveIntegerField(_("版本"), default=1)
    is_chosen = models.BooleanField(_("客户选定"), default=False)
    chosen_at = models.DateTimeField(_("选定时间"), null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("修改人"),
    )
    updated_at = models.DateTimeField(_("修改时间"), auto_now=True)

    class Meta:
        verbose_name = _("设计方案")
        verbose_name_plural = _("设计方案")
        ordering = ["label", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "project", "label"], name="proj_designplan_label_uniq"),
            models.UniqueConstraint(
                fields=["tenant", "project"],
                condition=models.Q(is_chosen=True),
                name="proj_designplan_one_chosen",
            ),
            models.CheckConstraint(
                condition=models.Q(cost_min_fen__lte=models.F("cost_max_fen")), name="proj_plan_cost_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.title}"


class DesignPlanRevision(TenantOwnedModel):
    """Snapshot of a plan at one version (append-only)."""

    plan = models.ForeignKey(DesignPlan, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField(_("版本"))
    title = models.CharField(_("标题"), max_length=100)
    style = models.CharField(_("风格"), max_length=30, blank=True)
    cost_min_fen = models.PositiveBigIntegerField(_("预算下限（分）"))
    cost_max_fen = models.PositiveBigIntegerField(_("预算上限（分）"))
    notes = models.TextField(_("说明"), blank=True)
    change_note = models.CharField(_("修改说明"), max_length=200, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("修改人"),
    )
    changed_at = models.DateTimeField(_("修改时间"), auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "plan", "version"], name="proj_planrev_version_uniq")
        ]


# --- Daily logs -----------------------------------------------------------------------------


class DailyLog(TenantOwnedModel):
    """What happened on site today (posted by the project manager)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="daily_logs")
    log_date = models.DateField(_("日期"))
    work_done = models.TextField(_("今日完成"))
    plan_tomorrow = models.TextField(_("明日计划"), blank=True)
    workers_on_site = models.PositiveSmallIntegerField(_("在场工人数"), default=0)
    stage = models.CharField(_("阶段"), max_length=32, choices=Stage.choices, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("记录人"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("施工日志")
        verbose_name_plural = _("施工日志")
        ordering = ["-log_date", "-id"]
        indexes = [models.Index(fields=["tenant", "project", "-log_date"], name="proj_dailylog_idx")]


def photo_upload_to(instance, filename: str) -> str:
    return f"projects/{instance.tenant_id}/photos/{uuid.uuid4().hex}{_ext(filename)}"


def thumb_upload_to(instance, filename: str) -> str:  # noqa: ARG001 - upload_to signature
    return f"projects/{instance.tenant_id}/thumbs/{uuid.uuid4().hex}.jpg"


def report_upload_to(instance, filename: str) -> str:
    return f"projects/{instance.tenant_id}/reports/{uuid.uuid4().hex}{_ext(filename)}"


def _ext(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return f".{suffix}" if suffix in {"jpg", "jpeg", "png", "webp", "pdf"} else ""


class SitePhoto(TenantOwnedModel):
    """A validated site photo with its thumbnail (of a daily log or an inspection item)."""

    daily_log = models.ForeignKey(
        DailyLog, on_delete=models.CASCADE, related_name="photos", null=True, blank=True
    )
    inspection_item = models.ForeignKey(
        "InspectionItem", on_delete=models.CASCADE, related_name="photos", null=True, blank=True
    )
    image = models.FileField(_("照片"), upload_to=photo_upload_to, max_length=200)
    thumbnail = models.FileField(_("缩略图"), upload_to=thumb_upload_to, max_length=200)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    size_bytes = models.PositiveIntegerField(default=0)
    caption = models.CharField(_("说明"), max_length=100, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


# --- QC inspections -------------------------------------------------------------------------


class ChecklistItem(TenantOwnedModel):
    """The tenant's inspection checklist template (one row per item)."""

    position = models.PositiveSmallIntegerField(_("序号"), default=0)
    category = models.CharField(_("分类"), max_length=30)
    title = models.CharField(_("检查项"), max_length=100)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("检查项模板")
        verbose_name_plural = _("检查项模板")
        ordering = ["position", "id"]


class InspectionKind(models.TextChoices):
    WEEKLY = "weekly", _("周检")
    REINSPECTION = "reinspection", _("复检")


class Inspection(TenantOwnedModel):
    """A supervisor's QC inspection; score = passed items / all items × 100."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="inspections")
    kind = models.CharField(
        _("类型"), max_length=20, choices=InspectionKind.choices, default=InspectionKind.WEEKLY
    )
    inspected_on = models.DateField(_("检查日期"))
    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("检查人"),
    )
    stage = models.CharField(_("阶段"), max_length=32, choices=Stage.choices, blank=True)
    score = models.PositiveSmallIntegerField(_("得分"), default=100)
    notes = models.TextField(_("备注"), blank=True)
    rectification = models.ForeignKey(
        "Rectification", on_delete=models.CASCADE, null=True, blank=True, related_name="reinspections"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("质检")
        verbose_name_plural = _("质检")
        ordering = ["-inspected_on", "-id"]
        indexes = [models.Index(fields=["tenant", "project", "-inspected_on"], name="proj_inspection_idx")]


class InspectionItem(TenantOwnedModel):
    inspection = models.ForeignKey(Inspection, on_delete=models.CASCADE, related_name="items")
    category = models.CharField(_("分类"), max_length=30, blank=True)
    title = models.CharField(_("检查项"), max_length=100)
    passed = models.BooleanField(_("合格"))
    note = models.CharField(_("备注"), max_length=300, blank=True)
    hazard = models.CharField(_("隐患/整改要求"), max_length=300, blank=True)

    class Meta:
        ordering = ["id"]


class Rectification(TenantOwnedModel):
    """Opened by a failed item; closes only when a re-inspection passes."""

    class Status(models.TextChoices):
        OPEN = "open", _("整改中")
        CLOSED = "closed", _("已关闭")

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rectifications")
    item = models.OneToOneField(InspectionItem, on_delete=models.CASCADE, related_name="rectification")
    description = models.CharField(_("整改内容"), max_length=300)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("负责人"),
    )
    due_on = models.DateField(_("整改期限"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("整改")
        verbose_name_plural = _("整改")
        ordering = ["status", "due_on", "id"]
        indexes = [models.Index(fields=["tenant", "project", "status"], name="proj_rectification_idx")]


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
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="change_orders")
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
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decision_channel = models.CharField(max_length=20, choices=DecisionChannel.choices, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)

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
    change_order = models.ForeignKey(ChangeOrder, on_delete=models.CASCADE, related_name="lines")
    description = models.CharField(_("项目"), max_length=100)
    quantity = models.DecimalField(_("数量"), max_digits=10, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=10, blank=True)
    unit_price_fen = models.BigIntegerField(_("单价（分）"), help_text=_("减项填负数"))
    amount_fen = models.BigIntegerField(_("金额（分）"), help_text=_("单价 × 数量，四舍五入到分"))

    class Meta:
        ordering = ["id"]


class ChangeOrderEvent(TenantOwnedModel):
    """History of a change order (created, edited, sent, approved, rejected)."""

    change_order = models.ForeignKey(ChangeOrder, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    channel = models.CharField(max_length=20, blank=True)
    note = models.CharField(max_length=300, blank=True)
    occurred_at = models.DateTimeField(default=timezone.now)

    ACTION_LABELS = {
        "created": _("创建"),
        "edited": _("修改"),
        "sent": _("发送客户"),
        "approved": _("批准"),
        "rejected": _("拒绝"),
    }

    class Meta:
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
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="materials")
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
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("材料")
        verbose_name_plural = _("材料")
        ordering = ["category", "id"]


class MaterialReport(TenantOwnedModel):
    """A QC / test report file of a material (e.g. tile radioactivity test)."""

    material = models.ForeignKey(Material, on_delete=models.CASCADE, related_name="reports")
    title = models.CharField(_("报告名称"), max_length=100)
    file = models.FileField(_("文件"), upload_to=report_upload_to, max_length=200)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


# --- Customer share link --------------------------------------------------------------------


class ShareLink(TenantOwnedModel):
    """Customer progress page link: only the hash of the token is stored; revocable, expiring."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="share_links")
    key_hash = models.CharField(max_length=64)
    prefix = models.CharField(max_length=12)
    expires_at = models.DateTimeField(_("有效期至"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

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
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="callbacks")
    period = models.PositiveIntegerField(_("周期"))
    due_on = models.DateField(_("应回访日期"))
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    satisfaction = models.PositiveSmallIntegerField(
        _("满意度"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    comments = models.TextField(_("客户意见"), blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

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
