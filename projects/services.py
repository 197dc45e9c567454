"""Project writes. Other apps react to what happens here through crm.events (never imports)."""

from __future__ import annotations

import datetime
import hashlib
import io
import secrets
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from crm import events
from crm.models import Role, Tenant, User
from crm.uploads import inspect_image, validate_document_file
from projects.models import (
    DESIGN_STAGES,
    PM_STAGES,
    STAGE_ORDER,
    Acceptance,
    AcceptanceKind,
    ChangeOrder,
    ChangeOrderEvent,
    ChangeOrderLine,
    ChangeOrderStatus,
    ChecklistItem,
    ConfirmationCode,
    ConstructionCallback,
    DailyLog,
    DecisionChannel,
    DesignPlan,
    DesignPlanRevision,
    Inspection,
    InspectionItem,
    InspectionKind,
    Material,
    MaterialReport,
    Project,
    Rectification,
    ShareLink,
    SitePhoto,
    Stage,
    StageHistory,
    StageSetting,
    stage_index,
)

MAX_PHOTOS_PER_LOG = 9
THUMBNAIL_SIZE = (320, 320)
SHARE_LINK_DEFAULT_DAYS = 90
CODE_TTL = datetime.timedelta(minutes=10)
CODE_MAX_ATTEMPTS = 5
CALLBACK_PERIOD_DAYS = 14


def _lock(project: Project) -> Project:
    return Project.objects.select_for_update(of=("self",)).get(pk=project.pk)


def _has_role(user: User | None, *roles: str) -> bool:
    return user is not None and bool(set(user.roles or []) & {*roles, Role.ADMIN})


def _apply_customer_facts(*, tenant: Tenant, project: Project, lifecycle: str | None) -> None:
    """Tell customers how many projects this customer signed and their total (lifecycle moves on)."""
    from customers import services as customer_services

    signed = Project.objects.filter(
        customer_id=project.customer_id, signed_on__isnull=False, cancelled_at__isnull=True
    )
    customer_services.customer_apply_project_facts(
        tenant=tenant,
        customer=project.customer,
        signed_projects=signed.count(),
        contract_total=signed.aggregate(total=Sum("contract_amount"))["total"] or 0,
        lifecycle=lifecycle,
    )


# --- Project ---------------------------------------------------------------------------------


PROJECT_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "address",
        "area_sqm",
        "style",
        "planned_start_on",
        "planned_end_on",
        "designer",
        "project_manager",
        "supervisor",
        "service_owner",
    }
)
PROJECT_STAFF_FIELDS = ("designer", "project_manager", "supervisor", "service_owner")


def _check_project_fields(*, tenant: Tenant, project: Project) -> None:
    """Rules shared by create and update: a name, the team from this tenant, a sane plan."""
    if not (project.name or "").strip():
        raise ValidationError({"name": ValidationError("请填写项目名称。", code="required")})
    for field in PROJECT_STAFF_FIELDS:
        user = getattr(project, field)
        if user is not None and user.tenant_id != tenant.pk:
            raise ValidationError({field: ValidationError("员工不存在。", code="invalid_staff")})
    start, end = project.planned_start_on, project.planned_end_on
    if start is not None and end is not None and end < start:
        message = "计划完工日期不能早于计划开工日期。"
        raise ValidationError({"planned_end_on": ValidationError(message, code="planned_dates_order")})


@transaction.atomic
def project_create(*, tenant: Tenant, created_by: User | None, customer, name: str, **fields) -> Project:
    """Open a project for a customer at the first stage (history starts here)."""
    if customer.tenant_id != tenant.pk:
        raise ValidationError({"customer": "客户不存在。"})
    project = Project(tenant=tenant, customer=customer, name=name, **fields)
    _check_project_fields(tenant=tenant, project=project)
    project.stage = Stage.CONSULTATION
    project.stage_entered_at = timezone.now()
    project.full_clean(exclude=["tenant", "customer", "contract_number"])
    project.save()
    StageHistory.objects.create(
        tenant=tenant,
        project=project,
        from_stage="",
        to_stage=project.stage,
        changed_by=created_by,
        reason="创建项目",
    )
    events.publish(
        events.EventType.PROJECT_CREATED, tenant=tenant, project_id=project.pk, customer_id=customer.pk
    )
    return project


@transaction.atomic
def project_update(*, tenant: Tenant, project: Project, updated_by: User | None, **fields) -> Project:
    """Edit a project's details and team (stage, contract and handover have their own services).

    A handed-over project is part of the customer's record and no longer editable.
    """
    unknown = set(fields) - PROJECT_EDITABLE_FIELDS
    if unknown:
        raise ValidationError({"__all__": f"这些字段不能在此修改：{'、'.join(sorted(unknown))}"})
    project = _lock(project)
    if project.handed_over_on is not None or project.stage == Stage.HANDOVER:
        raise ValidationError("项目已交付，不能再修改。", code="project_handed_over")
    for field, value in fields.items():
        setattr(project, field, value)
    _check_project_fields(tenant=tenant, project=project)
    project.full_clean(exclude=["tenant", "customer", "contract_number"])
    project.save(update_fields=[*fields])
    return project


@transaction.atomic
def contract_sign(
    *,
    tenant: Tenant,
    project: Project,
    signed_by: User,
    contract_number: str,
    contract_amount: int,
    signed_on: datetime.date,
) -> Project:
    """Record the signed contract and announce ``contract_signed`` (referrals credit, lifecycle moves).

    A project still in the sales stages moves to "contract signed" (recorded in the history).
    """
    if contract_amount is None or contract_amount <= 0:
        raise ValidationError({"contract_amount": "合同金额必须大于 0。"})
    if not contract_number:
        raise ValidationError({"contract_number": "请填写合同编号。"})
    project = _lock(project)
    if project.signed_on is not None:
        return project  # already signed: signing twice does nothing
    if project.cancelled_at is not None:
        raise ValidationError({"contract_number": "该项目合同已取消，不能再次签约。"})
    if Project.objects.filter(contract_number=contract_number).exclude(pk=project.pk).exists():
        raise ValidationError({"contract_number": f"合同编号 {contract_number} 已被使用。"})
    project.contract_number = contract_number
    project.contract_amount = contract_amount
    project.signed_on = signed_on
    fields = ["contract_number", "contract_amount", "signed_on"]
    if stage_index(project.stage) < stage_index(Stage.CONTRACT_SIGNED):
        _record_stage(project=project, to_stage=Stage.CONTRACT_SIGNED, by=signed_by, reason="合同签订")
        fields += ["stage", "stage_entered_at"]
    try:
        with transaction.atomic():  # a concurrent sign with the same number loses here, as a 400
            project.save(update_fields=fields)
    except IntegrityError:
        raise ValidationError({"contract_number": f"合同编号 {contract_number} 已被使用。"})
    events.publish(
        events.EventType.PROJECT_CONTRACT_SIGNED,
        tenant=tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
    )
    _apply_customer_facts(tenant=tenant, project=project, lifecycle="signed")
    return project


@transaction.atomic
def contract_cancel(*, tenant: Tenant, project: Project, cancelled_by: User, reason: str) -> Project:
    """Cancel a signed contract and announce ``contract_cancelled`` (referrals reverse credit).

    Cancelling twice does nothing the second time; a handed-over project cannot be cancelled.
    """
    if not (reason or "").strip():
        raise ValidationError({"reason": "请填写取消原因。"})
    project = _lock(project)
    if project.cancelled_at is not None:
        return project
    if project.signed_on is None:
        raise ValidationError({"reason": "项目尚未签约，无需取消合同。"})
    if project.handed_over_on is not None:
        raise ValidationError({"reason": "项目已交付，不能取消合同。"})
    project.cancelled_at = timezone.now()
    project.cancel_reason = reason.strip()
    project.save(update_fields=["cancelled_at", "cancel_reason"])
    events.publish(
        events.EventType.PROJECT_CONTRACT_CANCELLED,
        tenant=tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
    )
    _apply_customer_facts(tenant=tenant, project=project, lifecycle=None)
    return project


def acceptance_passed(*, project: Project, kind: str) -> bool:
    """The latest acceptance of this kind decides (a later failure withdraws an earlier pass).

    Only acceptances recorded since the project last entered its current stage count: after a
    move back for rework, the checkpoint must be passed again.
    """
    latest = (
        Acceptance.objects.filter(project=project, kind=kind, created_at__gte=project.stage_entered_at)
        .order_by("-created_at", "-id")
        .first()
    )
    return latest is not None and latest.passed


@transaction.atomic
def project_handover(
    *, tenant: Tenant, project: Project, handed_over_by: User, handed_over_on: datetime.date
) -> Project:
    """Hand the finished home over and announce ``project_handed_over`` (aftercare schedules visits).

    Requires a passed completion acceptance. Running it twice does nothing the second time.
    """
    project = _lock(project)
    if project.handed_over_on is not None:
        return project
    if project.cancelled_at is not None:
        raise ValidationError({"stage": "合同已取消，不能交付。"})
    if project.stage not in (Stage.COMPLETION_ACCEPTANCE, Stage.HANDOVER):
        # the direct /handover/ action must not jump over stages (e.g. after a move back for rework)
        raise ValidationError({"stage": "项目须处于「竣工验收」阶段才能交付。"})
    if not acceptance_passed(project=project, kind=AcceptanceKind.COMPLETION):
        raise ValidationError({"stage": "竣工验收尚未通过，不能交付。"})
    project.handed_over_on = handed_over_on
    fields = ["handed_over_on"]
    if project.stage != Stage.HANDOVER:
        _record_stage(project=project, to_stage=Stage.HANDOVER, by=handed_over_by, reason="交付")
        fields += ["stage", "stage_entered_at"]
    project.save(update_fields=fields)
    events.publish(
        events.EventType.PROJECT_HANDED_OVER,
        tenant=tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
    )
    _apply_customer_facts(tenant=tenant, project=project, lifecycle="handed_over")
    return project


# --- Stages ----------------------------------------------------------------------------------


def _record_stage(
    *, project: Project, to_stage: str, by: User | None, reason: str, direction: str = "forward"
):
    """Move ``project`` (caller saves it) and write the history row."""
    StageHistory.objects.create(
        tenant_id=project.tenant_id,
        project=project,
        from_stage=project.stage,
        to_stage=to_stage,
        direction=direction,
        reason=reason,
        changed_by=by,
    )
    events.publish(
        events.EventType.PROJECT_STAGE_CHANGED,
        tenant=project.tenant,
        project_id=project.pk,
        customer_id=project.customer_id,
        from_stage=project.stage,
        to_stage=to_stage,
    )
    project.stage = to_stage
    project.stage_entered_at = timezone.now()
    if to_stage == Stage.DEMOLITION and project.construction_started_on is None:
        project.construction_started_on = timezone.localdate()


def can_move_stage(user: User | None, from_stage: str, to_stage: str) -> bool:
    """Designers move design stages, project managers construction stages, managers anything."""
    if _has_role(user, Role.MANAGER):
        return True
    if _has_role(user, Role.DESIGNER) and {from_stage, to_stage} <= DESIGN_STAGES:
        return True
    return _has_role(user, Role.PROJECT_MANAGER) and {from_stage, to_stage} <= PM_STAGES


@transaction.atomic
def project_move_stage(
    *, tenant: Tenant, project: Project, to_stage: str, moved_by: User, reason: str = ""
) -> Project:
    """The only way a stage changes: forward exactly one step, or back (any number) with a reason.

    Gates: "contract signed" needs a signed contract; masonry needs passed hidden-works
    acceptance; handover goes through :func:`project_handover` (completion acceptance).
    """
    if to_stage not in STAGE_ORDER:
        raise ValidationError({"to_stage": "未知阶段。"})
    project = _lock(project)
    current = project.stage
    if project.cancelled_at is not None:
        raise ValidationError({"to_stage": "合同已取消，项目阶段不能再变更。"})
    if project.handed_over_on is not None:
        raise ValidationError({"to_stage": "项目已交付，阶段不能再变更。"})
    step = stage_index(to_stage) - stage_index(current)
    if step == 0:
        raise ValidationError({"to_stage": "项目已处于该阶段。"})
    if step > 1:
        raise ValidationError({"to_stage": "不能跳过阶段，只能前进一步。"})
    reason = (reason or "").strip()
    if step < 0 and not reason:
        raise ValidationError({"reason": "退回阶段必须填写原因。"})
    if not can_move_stage(moved_by, current, to_stage):
        raise PermissionDenied("您的角色无权变更该阶段。")
    if to_stage == Stage.HANDOVER:
        return project_handover(
            tenant=tenant, project=project, handed_over_by=moved_by, handed_over_on=timezone.localdate()
        )
    if step > 0 and to_stage == Stage.CONTRACT_SIGNED and project.signed_on is None:
        raise ValidationError({"to_stage": "请先签订合同（录入合同编号与金额）。"})
    if (
        step > 0
        and to_stage == Stage.MASONRY
        and not acceptance_passed(project=project, kind=AcceptanceKind.HIDDEN_WORKS)
    ):
        raise ValidationError({"to_stage": "水电隐蔽工程验收未通过，不能进入泥瓦阶段。"})
    _record_stage(
        project=project,
        to_stage=to_stage,
        by=moved_by,
        reason=reason,
        direction="forward" if step > 0 else "back",
    )
    project.save(update_fields=["stage", "stage_entered_at", "construction_started_on"])
    if step > 0 and to_stage == Stage.DEMOLITION:
        _apply_customer_facts(tenant=tenant, project=project, lifecycle="under_construction")
    return project


@transaction.atomic
def project_advance(*, tenant: Tenant, project: Project, advanced_by: User, reason: str = "") -> Project:
    """One step forward from the current stage."""
    index = stage_index(project.stage)
    if index + 1 >= len(STAGE_ORDER):
        raise ValidationError({"to_stage": "项目已处于最后阶段。"})
    return project_move_stage(
        tenant=tenant, project=project, to_stage=STAGE_ORDER[index + 1], moved_by=advanced_by, reason=reason
    )


@transaction.atomic
def acceptance_record(
    *,
    tenant: Tenant,
    project: Project,
    kind: str,
    passed: bool,
    recorded_by: User,
    accepted_on: datetime.date | None = None,
    notes: str = "",
) -> Acceptance:
    """Record a checkpoint acceptance in the stage it belongs to."""
    required_stage = {
        AcceptanceKind.HIDDEN_WORKS: Stage.PLUMBING_ELECTRICAL,
        AcceptanceKind.COMPLETION: Stage.COMPLETION_ACCEPTANCE,
    }.get(kind)
    if required_stage is None:
        raise ValidationError({"kind": "未知验收类型。"})
    project = _lock(project)
    if project.stage != required_stage:
        raise ValidationError({"kind": f"只能在「{Stage(required_stage).label}」阶段记录该验收。"})
    if not passed and not (notes or "").strip():
        raise ValidationError({"notes": "验收不通过时请写明问题。"})
    acceptance = Acceptance.objects.create(
        tenant=tenant,
        project=project,
        kind=kind,
        passed=passed,
        notes=notes,
        accepted_on=accepted_on or timezone.localdate(),
        recorded_by=recorded_by,
    )
    if passed and kind == AcceptanceKind.HIDDEN_WORKS:
        # aftercare sends the plumbing & electrical CSAT survey (deduplicated on its side)
        events.publish(
            events.EventType.PROJECT_MILESTONE,
            tenant=tenant,
            project_id=project.pk,
            customer_id=project.customer_id,
            milestone="plumbing_electrical",
        )
    return acceptance


@transaction.atomic
def stage_setting_update(*, tenant: Tenant, stage: str, name: str, planned_days: int) -> StageSetting:
    """Rename a stage / set its planned duration (the order never changes)."""
    if stage not in STAGE_ORDER:
        raise ValidationError({"stage": "未知阶段。"})
    if not (name or "").strip():
        raise ValidationError({"name": "请填写阶段名称。"})
    if planned_days is None or planned_days < 0 or planned_days > 365:
        raise ValidationError({"planned_days": "计划天数应在 0–365 之间。"})
    setting, _ = StageSetting.objects.update_or_create(
        stage=stage, defaults={"name": name.strip(), "planned_days": planned_days, "tenant": tenant}
    )
    return setting


# --- Design plans ----------------------------------------------------------------------------


def _snapshot(plan: DesignPlan, by: User | None, note: str) -> None:
    DesignPlanRevision.objects.create(
        tenant_id=plan.tenant_id,
        plan=plan,
        version=plan.version,
        title=plan.title,
        style=plan.style,
        cost_min=plan.cost_min,
        cost_max=plan.cost_max,
        notes=plan.notes,
        change_note=note,
        changed_by=by,
    )


def _check_cost(cost_min: int, cost_max: int) -> None:
    if cost_min is None or cost_max is None or cost_min < 0 or cost_max < cost_min:
        raise ValidationError({"cost_max": "预算上限不能低于下限。"})


@transaction.atomic
def design_plan_create(
    *,
    tenant: Tenant,
    project: Project,
    created_by: User,
    label: str,
    title: str,
    cost_min: int,
    cost_max: int,
    style: str = "",
    notes: str = "",
) -> DesignPlan:
    """Add an option (at most 3 per project); version 1 is kept as the first revision."""
    project = _lock(project)
    _check_cost(cost_min, cost_max)
    if DesignPlan.objects.filter(project=project).count() >= 3:
        raise ValidationError({"label": "每个项目最多 3 个设计方案。"})
    if DesignPlan.objects.filter(project=project, label=label).exists():
        raise ValidationError({"label": f"方案「{label}」已存在。"})
    plan = DesignPlan.objects.create(
        tenant=tenant,
        project=project,
        label=label,
        title=title,
        style=style,
        cost_min=cost_min,
        cost_max=cost_max,
        notes=notes,
        updated_by=created_by,
    )
    _snapshot(plan, created_by, "创建方案")
    return plan


@transaction.atomic
def design_plan_revise(
    *, tenant: Tenant, plan: DesignPlan, revised_by: User, change_note: str = "", **changes
) -> DesignPlan:
    """Change a plan: the version goes up and the new state is kept as a revision."""
    plan = DesignPlan.objects.select_for_update(of=("self",)).get(pk=plan.pk)
    allowed = {"title", "style", "cost_min", "cost_max", "notes"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError({sorted(unknown)[0]: "该字段不能修改。"})
    for field, value in changes.items():
        setattr(plan, field, value)
    _check_cost(plan.cost_min, plan.cost_max)
    plan.version += 1
    plan.updated_by = revised_by
    plan.save()
    _snapshot(plan, revised_by, change_note)
    return plan


@transaction.atomic
def design_plan_choose(*, tenant: Tenant, plan: DesignPlan, chosen_by: User) -> DesignPlan:
    """Record the customer's choice (one chosen plan per project)."""
    project = _lock(plan.project)
    DesignPlan.objects.filter(project=project, is_chosen=True).exclude(pk=plan.pk).update(
        is_chosen=False, chosen_at=None
    )
    plan = DesignPlan.objects.get(pk=plan.pk)
    if not plan.is_chosen:
        plan.is_chosen = True
        plan.chosen_at = timezone.now()
        plan.updated_by = chosen_by
        plan.save(update_fields=["is_chosen", "chosen_at", "updated_by", "updated_at"])
        events.publish(
            events.EventType.PROJECT_MILESTONE,
            tenant=tenant,
            project_id=project.pk,
            customer_id=project.customer_id,
            milestone="design_approval",
        )
        if plan.style and not project.style:
            project.style = plan.style
            project.save(update_fields=["style"])
    return plan


# --- Photos and daily logs -------------------------------------------------------------------


def validate_image_upload(upload: UploadedFile, *, field: str = "photos") -> tuple[bytes, object]:
    """Size, type and pixel caps from the header (crm.uploads), then one bounded decode."""
    from PIL import Image

    try:
        inspect_image(upload)
    except ValidationError as error:
        raise ValidationError({field: [error]}) from None
    data = upload.read()
    upload.seek(0)
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ValidationError(
            {field: f"「{upload.name}」不是有效的图片文件（仅支持 JPG、PNG、WebP）。"}, code="invalid_image"
        ) from None
    return data, image


def _thumbnail_bytes(image) -> bytes:
    from PIL import ImageOps

    thumb = ImageOps.exif_transpose(image).convert("RGB")
    thumb.thumbnail(THUMBNAIL_SIZE)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=80)
    return out.getvalue()


def _store_photo(*, tenant: Tenant, upload: UploadedFile, data: bytes, image, **owner) -> SitePhoto:
    """Write through Django's storage API (local disk or S3-compatible, per STORAGES)."""
    extension = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[image.format]
    photo = SitePhoto(tenant=tenant, width=image.width, height=image.height, size_bytes=len(data), **owner)
    photo.image.save(f"photo.{extension}", ContentFile(data), save=False)
    photo.thumbnail.save("thumb.jpg", ContentFile(_thumbnail_bytes(image)), save=False)
    photo.save()
    return photo


def _validated_photos(uploads: list[UploadedFile], *, already: int = 0) -> list[tuple]:
    if already + len(uploads) > MAX_PHOTOS_PER_LOG:
        raise ValidationError({"photos": f"每条日志最多 {MAX_PHOTOS_PER_LOG} 张照片。"})
    return [(upload, *validate_image_upload(upload)) for upload in uploads]


@transaction.atomic
def daily_log_create(
    *,
    tenant: Tenant,
    project: Project,
    author: User,
    log_date: datetime.date,
    work_done: str,
    plan_tomorrow: str = "",
    workers_on_site: int = 0,
    photos: list[UploadedFile] | None = None,
) -> DailyLog:
    """Post today's log; every photo is validated before anything is written."""
    if not (work_done or "").strip():
        raise ValidationError({"work_done": "请填写今日完成内容。"})
    if log_date > timezone.localdate():
        raise ValidationError({"log_date": "日志日期不能是未来。"})
    checked = _validated_photos(list(photos or []))
    log = DailyLog.objects.create(
        tenant=tenant,
        project=project,
        author=author,
        log_date=log_date,
        work_done=work_done.strip(),
        plan_tomorrow=(plan_tomorrow or "").strip(),
        workers_on_site=workers_on_site or 0,
        stage=project.stage,
    )
    for upload, data, image in checked:
        _store_photo(tenant=tenant, upload=upload, data=data, image=image, daily_log=log)
    return log


@transaction.atomic
def daily_log_add_photos(*, tenant: Tenant, log: DailyLog, photos: list[UploadedFile]) -> list[SitePhoto]:
    if not photos:
        raise ValidationError({"photos": "请选择照片。"})
    log = DailyLog.objects.select_for_update(of=("self",)).get(pk=log.pk)
    checked = _validated_photos(list(photos), already=log.photos.count())
    return [
        _store_photo(tenant=tenant, upload=upload, data=data, image=image, daily_log=log)
        for upload, data, image in checked
    ]


# --- QC inspections --------------------------------------------------------------------------

DEFAULT_CHECKLIST = [
    ("安全文明", "现场材料堆放整齐，通道畅通"),
    ("安全文明", "临时用电规范，无私拉乱接"),
    ("水电", "水管打压试验合格（0.8MPa 保压 30 分钟）"),
    ("水电", "强弱电分管分槽，间距不小于 30cm"),
    ("防水", "卫生间防水上翻高度达标（淋浴区 180cm）"),
    ("防水", "闭水试验 48 小时无渗漏"),
    ("泥瓦", "墙地砖空鼓率不超过 5%"),
    ("泥瓦", "砖缝均匀平直，坡度朝向地漏"),
    ("木工", "吊顶龙骨间距与固定符合规范"),
    ("油漆", "墙面平整无裂纹、无流坠"),
    ("成品保护", "门窗、地面成品保护到位"),
]


def checklist_items(*, tenant: Tenant) -> list[ChecklistItem]:
    """The tenant's active checklist (seeded from the default on first use)."""
    items = list(ChecklistItem.objects.filter(is_active=True))
    if not items and not ChecklistItem.objects.exists():
        ChecklistItem.objects.bulk_create(
            [
                ChecklistItem(tenant=tenant, position=index, category=category, title=title)
                for index, (category, title) in enumerate(DEFAULT_CHECKLIST, start=1)
            ]
        )
        items = list(ChecklistItem.objects.filter(is_active=True))
    return items


def _score(items: list[dict]) -> int:
    passed = sum(1 for item in items if item["passed"])
    return round(100 * passed / len(items)) if items else 100


@transaction.atomic
def inspection_record(
    *,
    tenant: Tenant,
    project: Project,
    inspector: User,
    items: list[dict],
    inspected_on: datetime.date | None = None,
    notes: str = "",
    rectification_due_days: int = 3,
) -> Inspection:
    """Record a weekly inspection; every failed item opens a rectification for the project manager.

    ``items``: ``[{"title", "passed", "category"?, "note"?, "hazard"?, "owner"?, "due_on"?}]``.
    """
    if not items:
        raise ValidationError({"items": "至少需要一个检查项。"})
    for item in items:
        if not (item.get("title") or "").strip():
            raise ValidationError({"items": "检查项名称不能为空。"})
        if not item["passed"] and not (item.get("hazard") or item.get("note") or "").strip():
            raise ValidationError({"items": f"不合格项「{item['title']}」请写明问题或整改要求。"})
    inspected_on = inspected_on or timezone.localdate()
    inspection = Inspection.objects.create(
        tenant=tenant,
        project=project,
        kind=InspectionKind.WEEKLY,
        inspected_on=inspected_on,
        inspector=inspector,
        stage=project.stage,
        score=_score(items),
        notes=notes,
    )
    for item in items:
        row = InspectionItem.objects.create(
            tenant=tenant,
            inspection=inspection,
            category=item.get("category", ""),
            title=item["title"].strip(),
            passed=bool(item["passed"]),
            note=item.get("note", ""),
            hazard=item.get("hazard", ""),
        )
        if not row.passed:
            Rectification.objects.create(
                tenant=tenant,
                project=project,
                item=row,
                description=row.hazard or row.note,
                owner=item.get("owner") or project.project_manager,
                due_on=item.get("due_on") or inspected_on + datetime.timedelta(days=rectification_due_days),
            )
    if not all(item["passed"] for item in items):
        events.publish(
            events.EventType.INSPECTION_FAILED,
            tenant=tenant,
            inspection_id=inspection.pk,
            project_id=project.pk,
        )
    return inspection


@transaction.atomic
def rectification_reinspect(
    *,
    tenant: Tenant,
    rectification: Rectification,
    inspector: User,
    passed: bool,
    note: str = "",
    inspected_on: datetime.date | None = None,
) -> Inspection:
    """A re-inspection: passing closes the rectification; failing keeps it open (recorded too)."""
    rectification = Rectification.objects.select_for_update(of=("self",)).get(pk=rectification.pk)
    if rectification.status == Rectification.Status.CLOSED:
        raise ValidationError({"rectification": "该整改已关闭。"})
    if not passed and not (note or "").strip():
        raise ValidationError({"note": "复检不合格时请写明原因。"})
    inspection = Inspection.objects.create(
        tenant=tenant,
        project_id=rectification.project_id,
        kind=InspectionKind.REINSPECTION,
        inspected_on=inspected_on or timezone.localdate(),
        inspector=inspector,
        stage=rectification.project.stage,
        score=100 if passed else 0,
        notes=note,
        rectification=rectification,
    )
    InspectionItem.objects.create(
        tenant=tenant,
        inspection=inspection,
        category=rectification.item.category,
        title=rectification.item.title,
        passed=passed,
        note=note,
    )
    if passed:
        rectification.status = Rectification.Status.CLOSED
        rectification.closed_at = timezone.now()
        rectification.save(update_fields=["status", "closed_at"])
    return inspection


@transaction.atomic
def inspection_item_add_photo(*, tenant: Tenant, item: InspectionItem, photo: UploadedFile) -> SitePhoto:
    data, image = validate_image_upload(photo, field="photo")
    if item.photos.count() >= MAX_PHOTOS_PER_LOG:
        raise ValidationError({"photo": f"每个检查项最多 {MAX_PHOTOS_PER_LOG} 张照片。"})
    return _store_photo(tenant=tenant, upload=photo, data=data, image=image, inspection_item=item)


# --- Change orders ---------------------------------------------------------------------------


def _line_amount(quantity: Decimal, unit_price: int) -> int:
    return int((Decimal(quantity) * Decimal(unit_price)).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def _write_lines(change_order: ChangeOrder, lines: list[dict]) -> None:
    if not lines:
        raise ValidationError({"lines": "变更单至少需要一个明细项。"})
    change_order.lines.all().delete()
    total = 0
    for number, line in enumerate(lines, start=1):
        try:
            quantity = Decimal(str(line.get("quantity")))
            unit_price = int(line["unit_price"])
        except (InvalidOperation, KeyError, TypeError, ValueError):
            raise ValidationError({"lines": f"第 {number} 行的数量或单价不是数字。"}) from None
        if not quantity.is_finite() or quantity <= 0:
            raise ValidationError({"lines": "数量必须大于 0（减项请填写负单价）。"})
        if not (line.get("description") or "").strip():
            raise ValidationError({"lines": "请填写明细项名称。"})
        row = ChangeOrderLine(
            tenant_id=change_order.tenant_id,
            change_order=change_order,
            description=line["description"].strip(),
            quantity=quantity,
            unit=line.get("unit", ""),
            unit_price=unit_price,
            amount=_line_amount(quantity, unit_price),
        )
        try:
            # the DB would round a 3rd decimal of the quantity (not the amount) or fail on lengths
            row.full_clean(exclude=["tenant", "change_order"])
        except ValidationError as error:
            raise ValidationError({"lines": [f"第 {number} 行：{m}" for m in error.messages]}) from None
        row.save()
        total += row.amount
    change_order.amount_delta = total


def _log(
    change_order: ChangeOrder, action: str, actor: User | None, channel: str = "", note: str = ""
) -> None:
    ChangeOrderEvent.objects.create(
        tenant_id=change_order.tenant_id,
        change_order=change_order,
        action=action,
        actor=actor,
        channel=channel,
        note=note,
    )


@transaction.atomic
def change_order_create(
    *, tenant: Tenant, project: Project, created_by: User, title: str, reason: str, lines: list[dict]
) -> ChangeOrder:
    project = _lock(project)
    if project.signed_on is None:
        raise ValidationError({"project": "项目尚未签约，不能创建变更单。"})
    _refuse_if_cancelled(project)
    if not (title or "").strip():
        raise ValidationError({"title": "请填写变更标题。"})
    if not (reason or "").strip():
        raise ValidationError({"reason": "请填写变更原因。"})
    number = (
        ChangeOrder.objects.filter(project=project)
        .order_by("-number")
        .values_list("number", flat=True)
        .first()
        or 0
    ) + 1
    change_order = ChangeOrder(
        tenant=tenant,
        project=project,
        number=number,
        title=title.strip(),
        reason=reason.strip(),
        created_by=created_by,
    )
    change_order.save()
    _write_lines(change_order, lines)
    change_order.save(update_fields=["amount_delta"])
    _log(change_order, "created", created_by)
    return change_order


def _lock_change_order(change_order: ChangeOrder) -> ChangeOrder:
    return ChangeOrder.objects.select_for_update(of=("self",)).get(pk=change_order.pk)


def _refuse_if_cancelled(project: Project) -> None:
    """A cancelled contract's budget is final: no new, sent or decided change orders."""
    if project.cancelled_at is not None:
        raise ValidationError({"status": "合同已取消，不能再处理变更单。"})


@transaction.atomic
def change_order_update(
    *,
    tenant: Tenant,
    change_order: ChangeOrder,
    updated_by: User,
    title: str | None = None,
    reason: str | None = None,
    lines: list[dict] | None = None,
) -> ChangeOrder:
    """Only a draft can be edited; what the customer was shown never changes under them."""
    change_order = _lock_change_order(change_order)
    if change_order.status != ChangeOrderStatus.DRAFT:
        raise ValidationError({"status": "只有草稿状态的变更单可以修改。"})
    if title is not None:
        change_order.title = title.strip()
    if reason is not None:
        change_order.reason = reason.strip()
    if lines is not None:
        _write_lines(change_order, lines)
    change_order.save()
    _log(change_order, "edited", updated_by)
    return change_order


@transaction.atomic
def change_order_send(*, tenant: Tenant, change_order: ChangeOrder, sent_by: User) -> ChangeOrder:
    change_order = _lock_change_order(change_order)
    if change_order.status != ChangeOrderStatus.DRAFT:
        raise ValidationError({"status": "只有草稿可以发送给客户确认。"})
    _refuse_if_cancelled(_lock(change_order.project))
    change_order.status = ChangeOrderStatus.SENT
    change_order.sent_at = timezone.now()
    change_order.save(update_fields=["status", "sent_at"])
    _log(change_order, "sent", sent_by)
    return change_order


@transaction.atomic
def change_order_decide(
    *,
    tenant: Tenant,
    change_order: ChangeOrder,
    approve: bool,
    channel: str,
    decided_by: User | None = None,
    note: str = "",
) -> ChangeOrder:
    """Approve or reject a sent change order (once; a decided order is immutable).

    ``decided_by`` is the staff member acting for the customer, or None when the customer
    decided on the progress page (channel ``customer_link``).
    """
    if channel not in DecisionChannel.values:
        raise ValidationError({"channel": "请选择确认方式。"})
    if channel != DecisionChannel.CUSTOMER_LINK and decided_by is None:
        raise ValidationError({"channel": "员工代客户确认时必须记录操作人。"})
    change_order = _lock_change_order(change_order)
    if change_order.is_decided:
        raise ValidationError({"status": f"变更单已{change_order.get_status_display()}，不能再次确认。"})
    if change_order.status != ChangeOrderStatus.SENT:
        raise ValidationError({"status": "变更单尚未发送给客户。"})
    _refuse_if_cancelled(_lock(change_order.project))  # locked: a concurrent cancel waits or wins
    change_order.status = ChangeOrderStatus.APPROVED if approve else ChangeOrderStatus.REJECTED
    change_order.decided_at = timezone.now()
    change_order.decided_by = decided_by
    change_order.decision_channel = channel
    change_order.decision_note = note
    change_order.save(
        update_fields=["status", "decided_at", "decided_by", "decision_channel", "decision_note"]
    )
    _log(change_order, change_order.status, decided_by, channel=channel, note=note)
    events.publish(
        events.EventType.CHANGE_ORDER_DECIDED,
        tenant=tenant,
        change_order_id=change_order.pk,
        project_id=change_order.project_id,
        status=change_order.status,
    )
    return change_order


def project_budget(*, project: Project) -> int:
    """Current budget = contract amount + the deltas of approved change orders."""
    approved = ChangeOrder.objects.filter(project=project, status=ChangeOrderStatus.APPROVED).aggregate(
        total=Sum("amount_delta")
    )["total"]
    return (project.contract_amount or 0) + (approved or 0)


# --- Materials -------------------------------------------------------------------------------


@transaction.atomic
def material_create(*, tenant: Tenant, project: Project, created_by: User, **fields) -> Material:
    material = Material(tenant=tenant, project=project, created_by=created_by, **fields)
    material.full_clean(exclude=["tenant", "project", "created_by"])
    if material.quantity <= 0:
        raise ValidationError({"quantity": "数量必须大于 0。"})
    material.save()
    return material


def validate_report_upload(upload: UploadedFile) -> bytes:
    """A QC report is a PDF or an image, checked by content within the caps (crm.uploads)."""
    try:
        validate_document_file(upload)
    except ValidationError as error:
        raise ValidationError({"file": [error]}) from None
    data = upload.read()
    upload.seek(0)
    return data


@transaction.atomic
def material_report_add(
    *, tenant: Tenant, material: Material, title: str, file: UploadedFile
) -> MaterialReport:
    if not (title or "").strip():
        raise ValidationError({"title": "请填写报告名称。"})
    data = validate_report_upload(file)
    report = MaterialReport(tenant=tenant, material=material, title=title.strip())
    extension = "pdf" if data.startswith(b"%PDF-") else inspect_image(file).extension
    report.file.save(f"report.{extension}", ContentFile(data), save=False)
    report.save()
    return report


# --- Share links ------------------------------------------------------------------------------


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@transaction.atomic
def share_link_create(
    *, tenant: Tenant, project: Project, created_by: User, valid_days: int = SHARE_LINK_DEFAULT_DAYS
) -> tuple[ShareLink, str]:
    """A new unguessable link (256-bit token); only its hash is stored. Returns (link, token)."""
    if not 1 <= valid_days <= 365:
        raise ValidationError({"valid_days": "有效期应在 1–365 天之间。"})
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(
        tenant=tenant,
        project=project,
        key_hash=hash_secret(token),
        prefix=token[:8],
        expires_at=timezone.now() + datetime.timedelta(days=valid_days),
        created_by=created_by,
    )
    return link, token


@transaction.atomic
def share_link_revoke(*, tenant: Tenant, link: ShareLink, revoked_by: User) -> ShareLink:
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


class CodeQuotaExceeded(ValidationError):
    """Too many codes for this link (one a minute, ``PROJECTS_CONFIRMATION_CODES_PER_DAY`` a day):
    a rate limit, answered 429 with ``retry_after`` seconds."""

    def __init__(self, message, retry_after: int):
        super().__init__({"code": ValidationError(message, code="code_quota_exceeded")})
        self.retry_after = retry_after


def confirmation_code_hash(link: ShareLink, code: str) -> str:
    """Keyed (HMAC with SECRET_KEY): a 6-digit code under a plain hash is read back from a database
    copy by trying all million values."""
    return salted_hmac("projects.confirmation-code", f"{link.pk}:{code}", algorithm="sha256").hexdigest()


@transaction.atomic
def confirmation_code_request(
    *, tenant: Tenant, link: ShareLink, change_order: ChangeOrder, decision: str
) -> ConfirmationCode:
    """Send a one-time 6-digit code to the customer's phone to confirm approve/reject.

    At most one code a minute and ``PROJECTS_CONFIRMATION_CODES_PER_DAY`` per rolling day per link
    (5 guesses each): bounds both the SMS bill and the guessing.
    """
    from crm.notifications.services import sms_send

    if decision not in ("approve", "reject"):
        raise ValidationError({"decision": "未知操作。"})
    if change_order.project_id != link.project_id or change_order.status != ChangeOrderStatus.SENT:
        raise ValidationError({"change_order": "该变更单无需确认。"})
    ShareLink.objects.select_for_update(of=("self",)).filter(pk=link.pk).first()  # one request at a time
    now = timezone.now()
    last_day = list(
        ConfirmationCode.objects.filter(share_link=link, created_at__gte=now - datetime.timedelta(days=1))
        .order_by("created_at")
        .values_list("created_at", flat=True)
    )
    if last_day and last_day[-1] >= now - datetime.timedelta(minutes=1):
        retry = 60 - int((now - last_day[-1]).total_seconds())
        raise CodeQuotaExceeded(_("验证码已发送，请一分钟后再试。"), retry_after=max(1, retry))
    daily_limit = settings.PROJECTS_CONFIRMATION_CODES_PER_DAY
    if len(last_day) >= daily_limit:
        oldest = last_day[-daily_limit]
        retry = int((oldest + datetime.timedelta(days=1) - now).total_seconds()) + 1
        raise CodeQuotaExceeded(
            _("今天获取验证码的次数已达上限，请明天再试或联系项目经理。"), retry_after=max(1, retry)
        )
    code = f"{secrets.randbelow(1_000_000):06d}"
    row = ConfirmationCode.objects.create(
        tenant=tenant,
        share_link=link,
        change_order=change_order,
        decision=decision,
        code_hash=confirmation_code_hash(link, code),
        expires_at=now + CODE_TTL,
    )
    action = "批准" if decision == "approve" else "拒绝"
    customer = link.project.customer
    sms_send(
        tenant=tenant,
        phone=customer.phone,
        message=(
            f"【{tenant.name}】您正在{action}变更单「{change_order.title}」，验证码 {code}，10 分钟内有效。"
        ),
        dedupe_key=f"projects:co-code:{row.pk}",
        secrets=[code],
    )
    return row


class CodeRejected(Exception):
    """Wrong/expired code: the attempt counter must persist, so the caller commits then reports."""


def confirmation_code_check(
    *, tenant: Tenant, link: ShareLink, change_order: ChangeOrder, code: str
) -> ChangeOrder:
    """Check the code (one use, expiring, 5 attempts) and record the customer's decision.

    A wrong code raises :class:`CodeRejected` only after its attempt is committed (the counter
    must survive the failure, or guessing would be unlimited).
    """
    with transaction.atomic():
        row = (
            ConfirmationCode.objects.select_for_update(of=("self",))
            .filter(share_link=link, change_order=change_order, used_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if row is None or row.expires_at <= timezone.now() or row.attempts >= CODE_MAX_ATTEMPTS:
            problem = "验证码已失效，请重新获取。"
        elif not secrets.compare_digest(row.code_hash, confirmation_code_hash(link, (code or "").strip())):
            row.attempts += 1
            row.save(update_fields=["attempts"])
            problem = "验证码不正确。"
        else:
            row.used_at = timezone.now()
            row.save(update_fields=["used_at"])
            return change_order_decide(
                tenant=tenant,
                change_order=change_order,
                approve=row.decision == "approve",
                channel=DecisionChannel.CUSTOMER_LINK,
                decided_by=None,
                note="客户通过进度页短信验证码确认",
            )
    raise CodeRejected(problem)


# --- Callbacks -------------------------------------------------------------------------------


@transaction.atomic
def callback_complete(
    *,
    tenant: Tenant,
    callback: ConstructionCallback,
    completed_by: User,
    satisfaction: int,
    comments: str = "",
) -> ConstructionCallback:
    callback = ConstructionCallback.objects.select_for_update(of=("self",)).get(pk=callback.pk)
    if callback.completed_at is not None:
        raise ValidationError({"satisfaction": "该回访已完成。"})
    if satisfaction not in (1, 2, 3, 4, 5):
        raise ValidationError({"satisfaction": "满意度应为 1–5。"})
    callback.satisfaction = satisfaction
    callback.comments = comments
    callback.completed_at = timezone.now()
    callback.completed_by = completed_by
    callback.save(update_fields=["satisfaction", "comments", "completed_at", "completed_by"])
    return callback


def callback_create_if_due(
    *, tenant: Tenant, project: Project, today: datetime.date
) -> ConstructionCallback | None:
    """Insert this period's callback row unless it exists (the unique row is the exactly-once)."""
    if project.construction_started_on is None:
        return None
    period = (today - project.construction_started_on).days // CALLBACK_PERIOD_DAYS
    if period < 1:
        return None
    try:
        with transaction.atomic():
            return ConstructionCallback.objects.create(
                tenant=tenant,
                project=project,
                period=period,
                due_on=project.construction_started_on
                + datetime.timedelta(days=period * CALLBACK_PERIOD_DAYS),
                assigned_to=project.service_owner,
            )
    except IntegrityError:
        return None
