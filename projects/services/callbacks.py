"""After-handover customer callbacks."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from projects.models import (
    ConstructionCallback,
    Project,
)

CALLBACK_PERIOD_DAYS = 14


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
        raise ValidationError({"satisfaction": _("该回访已完成。")})
    if satisfaction not in (1, 2, 3, 4, 5):
        raise ValidationError({"satisfaction": _("满意度应为 1–5。")})
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
