"""Maintenance visits: booking, completion (with a renovation lead when asked) and photos."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from aftercare.models import (
    MaintenancePlan,
    PlanStatus,
    SurveyKind,
    SurveyTrigger,
    Visit,
    VisitStatus,
)
from aftercare.services.surveys import survey_create
from crm import events
from crm.models import Tenant, User
from crm.uploads import validate_image_file
from customers.models import Customer


@transaction.atomic
def visit_create(
    *,
    tenant: Tenant,
    plan: MaintenancePlan,
    scheduled_at: datetime.datetime,
    technician: User | None,
    created_by: User | None = None,
) -> Visit:
    """Book an appointment for an open plan (a closed plan takes no visits)."""
    plan = MaintenancePlan.objects.select_for_update(of=("self",)).get(pk=plan.pk)
    if not plan.is_open:
        raise ValidationError({"plan": _("该回访计划已关闭，不能再安排回访。")})
    if technician is not None and technician.tenant_id != tenant.pk:
        raise ValidationError({"technician": _("员工不存在。")})
    if scheduled_at is None:
        raise ValidationError({"scheduled_at": _("请填写预约时间。")})
    return Visit.objects.create(
        tenant=tenant,
        plan=plan,
        project_id=plan.project_id,
        customer_id=plan.customer_id,
        scheduled_at=scheduled_at,
        technician=technician,
        checklist_results=[{"item": row.get("item", ""), "ok": None, "note": ""} for row in plan.checklist],
        created_by=created_by,
    )


def _clean_checklist(results: object) -> list[dict]:
    if results in (None, ""):
        return []
    if not isinstance(results, list) or not all(isinstance(row, dict) and row.get("item") for row in results):
        raise ValidationError(
            {"checklist_results": _('检查结果格式应为 [{"item": ..., "ok": true/false, "note": ...}]。')}
        )
    return [
        {
            "item": str(row["item"])[:200],
            "ok": row.get("ok") if row.get("ok") in (True, False) else None,
            "note": str(row.get("note", ""))[:500],
        }
        for row in results
    ]


#: The caption of the photo that holds the customer's hand-drawn signature.
SIGNATURE_CAPTION = "客户签名"


@transaction.atomic
def visit_complete(
    *,
    tenant: Tenant,
    visit: Visit,
    completed_by: User | None,
    checklist_results: list | None = None,
    findings: str = "",
    customer_confirmed: bool = False,
    customer_signature: str = "",
    satisfaction: int | None = None,
    renovation_interest: bool = False,
    photos: list | None = None,
    signature_image: UploadedFile | None = None,
) -> Visit:
    """Record the visit's results and close its plan; the 5-year visit (or a customer with
    renovation interest) becomes a new lead with source "aftercare". The on-site ``photos``
    (validated images) and the customer's hand-drawn ``signature_image`` are saved in the same
    transaction: no completed visit without its photos."""
    visit = Visit.objects.select_for_update(of=("self",)).get(pk=visit.pk)
    plan = (
        MaintenancePlan.objects.select_for_update(of=("self",)).select_related("kind").get(pk=visit.plan_id)
    )
    if visit.status == VisitStatus.COMPLETED:
        raise ValidationError({"visit": _("该回访已完成。")})
    if not plan.is_open:
        raise ValidationError({"plan": _("该回访计划已关闭。")})
    if satisfaction is not None and not 1 <= int(satisfaction) <= 5:
        raise ValidationError({"satisfaction": _("满意度必须是 1 到 5 之间的整数。")})
    now = timezone.now()
    visit.checklist_results = _clean_checklist(checklist_results) or visit.checklist_results
    visit.findings = findings
    visit.customer_confirmed = customer_confirmed
    visit.customer_signature = customer_signature
    visit.satisfaction = satisfaction
    visit.renovation_interest = renovation_interest
    visit.status = VisitStatus.COMPLETED
    visit.completed_at = now
    if plan.kind.creates_renovation_lead or renovation_interest:
        visit.renovation_lead_id = _renovation_lead_create(
            tenant=tenant, visit=visit, plan=plan, by=completed_by
        )
    visit.save()
    if photos:
        visit_photos_add(tenant=tenant, visit=visit, images=photos)
    if signature_image:
        visit_photos_add(tenant=tenant, visit=visit, images=[signature_image], caption=SIGNATURE_CAPTION)
    plan.status = PlanStatus.COMPLETED
    plan.completed_at = now
    plan.save(update_fields=["status", "completed_at"])
    events.publish(
        events.EventType.AFTERCARE_VISIT_COMPLETED,
        tenant=tenant,
        visit_id=visit.pk,
        plan_id=visit.plan_id,
        project_id=visit.project_id,
    )
    survey_create(
        tenant=tenant,
        customer=visit.customer,
        project=visit.project,
        kind=SurveyKind.CSAT,
        trigger=SurveyTrigger.VISIT,
        visit=visit,
        dedupe_key=f"visit-csat-{visit.pk}",
    )
    return visit


def _renovation_lead_create(
    *, tenant: Tenant, visit: Visit, plan: MaintenancePlan, by: User | None
) -> int | None:
    from customers.services.leads import lead_create  # noqa: PLC0415 (customers is upstream of aftercare)

    customer = Customer.objects.get(pk=visit.customer_id)
    reason = "五年回访" if plan.kind.creates_renovation_lead else "回访中客户表示有翻新意向"
    lead = lead_create(
        tenant=tenant,
        name=customer.name,
        phone=customer.phone,
        source_channel="aftercare",
        note=f"{reason}：{plan.project.name}。{visit.findings}".strip(),
        created_by=by,
        customer=customer,
    )
    return getattr(lead, "pk", None)


@transaction.atomic
def visit_photos_add(*, tenant: Tenant, visit: Visit, images: list, caption: str = "") -> list:
    """Attach on-site photos to a visit (validated images only)."""
    from aftercare.models import VisitPhoto  # noqa: PLC0415

    for image in images:
        validate_image_file(image)
    return [
        VisitPhoto.objects.create(tenant=tenant, visit=visit, image=image, caption=caption[:100])
        for image in images
    ]
