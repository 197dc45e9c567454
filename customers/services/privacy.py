"""Personal data: audit log, phone reveal and anonymisation (PIPL)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.models import Tenant, User
from crm.principal import credential_for_audit
from customers.models import (
    AuditAction,
    Customer,
    CustomerAuditLog,
    Lead,
)


def audit_log(
    *, tenant: Tenant, actor: User | None, action: str, customer: Customer | None = None, **detail: Any
) -> None:
    detail = {**credential_for_audit(), **detail}  # which API token, if any, and its scopes
    CustomerAuditLog.objects.create(
        tenant=tenant, actor=actor, action=action, customer=customer, detail=detail
    )


@transaction.atomic
def customer_reveal_phone(*, tenant: Tenant, customer: Customer, user: User) -> str:
    """The full number, logged (PIPL): who saw whose phone, when."""
    audit_log(tenant=tenant, actor=user, action=AuditAction.REVEAL_PHONE, customer=customer)
    return customer.phone


@transaction.atomic
def customer_anonymise(*, tenant: Tenant, customer: Customer, user: User) -> Customer:
    """Erase personal fields on request; history (leads, follow-ups, projects) stays, unnamed."""
    customer = Customer.objects.select_for_update(of=("self",)).get(pk=customer.pk)
    if customer.is_anonymised:
        return customer
    audit_log(tenant=tenant, actor=user, action=AuditAction.ANONYMISE, customer=customer)
    customer.name = "已匿名客户"
    customer.phone = f"anon-{customer.pk}"
    customer.wechat_id = ""
    customer.email = ""
    customer.preferred_contact_time = ""
    customer.address = ""
    customer.tags = []
    customer.anonymised_at = timezone.now()
    customer.save()
    Lead.objects.filter(customer=customer).update(note="", referral_code="")
    return customer
