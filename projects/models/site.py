"""Design plans, daily logs with site photos, QC inspections and rectifications."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from crm.tenancy import TenantOwnedModel
from projects.models.stages import Project, Stage

# --- Design plans ---------------------------------------------------------------------------


class DesignPlan(TenantOwnedModel):
    """One of 2–3 design options; every revision is kept in DesignPlanRevision."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="design_plans", verbose_name=_("项目")
    )
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

    plan = models.ForeignKey(
        DesignPlan, on_delete=models.CASCADE, related_name="revisions", verbose_name=_("设计方案")
    )
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
        verbose_name = _("方案修改记录")
        verbose_name_plural = _("方案修改记录")
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "plan", "version"], name="proj_planrev_version_uniq")
        ]


# --- Daily logs -----------------------------------------------------------------------------


class DailyLog(TenantOwnedModel):
    """What happened on site today (posted by the project manager)."""

    api_sync_fields = ("created_at", "updated_at")  # ?created_since= / ?updated_since= (crm/sync.py)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="daily_logs", verbose_name=_("项目")
    )
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
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="inspections", verbose_name=_("项目")
    )
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
        "Rectification",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="reinspections",
        verbose_name=_("来源整改"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

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
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="rectifications", verbose_name=_("项目")
    )
    item = models.OneToOneField(
        InspectionItem, on_delete=models.CASCADE, related_name="rectification", verbose_name=_("检查项")
    )
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
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("创建时间"))

    class Meta:
        verbose_name = _("整改")
        verbose_name_plural = _("整改")
        ordering = ["status", "due_on", "id"]
        indexes = [models.Index(fields=["tenant", "project", "status"], name="proj_rectification_idx")]
