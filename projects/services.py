"""Project writes. Other apps react to what happens here through crm.events (never imports)."""

from __future__ import annotations

import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from crm import events
from crm.models import Tenant, User
from projects.models import Project


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
    """Record the signed contract and announce ``contract_signed`` (referrals credit, lifecycle moves)."""
    if contract_amount is None or contract_amount <= 0:
        raise ValidationError({"contract_amount": "合同金额必须大于 0。"})
    if not contract_number:
        raise ValidationError({"contract_number": "请填写合同编号。"})
    project = Project.objects.select_for_update(of=("self",)).get(pk=project.pk)
    if project.signed_on is not None:
        return project  # already signed: signing twice does nothing
    if Project.objects.filter(contract_number=contract_number).exclude(pk=project.pk).exists():
        raise ValidationError({"contract_number": f"合同编号 {contract_number} 已被使用。"})
    project.contract_number = contract_number
    project.contract_amount = contract_amount
    project.signed_on = signed_on
    project.save(update_fields=["contract_number", "contract_amount", "signed_on"])
    events.publish("contract_signed", tenant=tenant, project_id=project.pk, customer_id=project.customer_id)
    return project


@transaction.atomic
def project_handover(
    *, tenant: Tenant, project: Project, handed_over_by: User, handed_over_on: datetime.date
) -> Project:
    """Hand the finished home over and announce ``project_handed_over`` (aftercare schedules visits).

    Running it twice does nothing the second time.
    """
    project = Project.objects.select_for_update(of=("self",)).get(pk=project.pk)
    if project.handed_over_on is not None:
        return project
    project.handed_over_on = handed_over_on
    project.save(update_fields=["handed_over_on"])
    events.publish(
        "project_handed_over", tenant=tenant, project_id=project.pk, customer_id=project.customer_id
    )
    return project
