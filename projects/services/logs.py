"""Daily construction logs and their photos."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from projects.models import (
    DailyLog,
    Project,
    SitePhoto,
)
from projects.services.photos import _store_photo, _validated_photos


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
        raise ValidationError({"work_done": _("请填写今日完成内容。")})
    if log_date > timezone.localdate():
        raise ValidationError({"log_date": _("日志日期不能是未来。")})
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
        raise ValidationError({"photos": _("请选择照片。")})
    log = DailyLog.objects.select_for_update(of=("self",)).get(pk=log.pk)
    checked = _validated_photos(list(photos), already=log.photos.count())
    return [
        _store_photo(tenant=tenant, upload=upload, data=data, image=image, daily_log=log)
        for upload, data, image in checked
    ]
