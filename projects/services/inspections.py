"""Quality inspections against the checklist, rectification and re-inspection."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import events
from crm.models import Tenant, User
from projects.models import (
    ChecklistItem,
    Inspection,
    InspectionItem,
    InspectionKind,
    Project,
    Rectification,
    SitePhoto,
)
from projects.services.photos import MAX_PHOTOS_PER_LOG, _store_photo, validate_image_upload

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
        raise ValidationError({"items": _("至少需要一个检查项。")})
    for item in items:
        if not (item.get("title") or "").strip():
            raise ValidationError({"items": _("检查项名称不能为空。")})
        if not item["passed"] and not (item.get("hazard") or item.get("note") or "").strip():
            raise ValidationError(
                {"items": _("不合格项「%(title)s」请写明问题或整改要求。") % {"title": item["title"]}}
            )
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
        raise ValidationError({"rectification": _("该整改已关闭。")})
    if not passed and not (note or "").strip():
        raise ValidationError({"note": _("复检不合格时请写明原因。")})
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
        raise ValidationError(
            {"photo": _("每个检查项最多 %(count)s 张照片。") % {"count": MAX_PHOTOS_PER_LOG}}
        )
    return _store_photo(tenant=tenant, upload=photo, data=data, image=image, inspection_item=item)
