"""Stages, the project itself, stage settings and history, acceptances, the signing policy."""

from __future__ import annotations

from django.conf import settings
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
    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="stage_history", verbose_name=_("项目")
    )
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

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="acceptances", verbose_name=_("项目")
    )
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
