"""Marketing consent (PIPL): recorded opt-in per channel, history, one-click opt-out links.

No consent row means "never opted in": marketing is refused. Every change appends a history row
(the database refuses to UPDATE history). Opt-out links carry a signed token (tenant, customer,
channel); the public page needs no login and resolves the tenant from the token.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant, User
from customers.models import Customer
from engagement.models import Consent, ConsentChannel, ConsentEvent, ConsentSource, ConsentState

# The version of the consent wording shown to customers; bump it when the text changes.
CONSENT_VERSION = "2025-01"
OPT_OUT_SALT = "engagement.opt_out"


@transaction.atomic
def consent_record(
    *,
    tenant: Tenant,
    customer: Customer,
    channel: str,
    state: str,
    source: str,
    version: str = CONSENT_VERSION,
    reason: str = "",
    actor: User | None = None,
    at: datetime.datetime | None = None,
) -> Consent:
    """Set the consent of ``customer`` on ``channel`` and append the change to its history.

    Staff entries need a reason (PIPL: who decided and why). Recording the same state, source and
    version again changes nothing and appends nothing.
    """
    reason = (reason or "").strip()
    errors: dict[str, ValidationError] = {}
    if channel not in ConsentChannel.values:
        errors["channel"] = ValidationError(_("未知的渠道。"), code="invalid_channel")
    if state not in ConsentState.values:
        errors["state"] = ValidationError(_("未知的授权状态。"), code="invalid_state")
    if source not in ConsentSource.values:
        errors["source"] = ValidationError(_("未知的授权来源。"), code="invalid_source")
    if source == ConsentSource.STAFF and not reason:
        errors["reason"] = ValidationError(_("员工录入授权时请填写原因。"), code="reason_required")
    if len(reason) > 200:
        errors["reason"] = ValidationError(_("原因最多 200 个字。"), code="too_long")
    if not version or len(version) > 32:
        errors["version"] = ValidationError(_("授权文本版本无效。"), code="invalid_version")
    if customer.tenant_id != tenant.pk:
        errors["customer"] = ValidationError(_("客户不存在。"), code="not_found")
    elif customer.is_anonymised and state == ConsentState.GRANTED:
        errors["customer"] = ValidationError(_("该客户已匿名化，不能再授权营销。"), code="anonymised")
    if errors:
        raise ValidationError(errors)
    at = at or timezone.now()
    consent = (
        Consent.objects.select_for_update(of=("self",))
        .filter(tenant=tenant, customer=customer, channel=channel)
        .first()
    )
    unchanged = consent is not None and (consent.state, consent.version) == (state, version)
    if unchanged and (state == ConsentState.WITHDRAWN or consent.source == source):
        return consent
    if consent is None:
        consent = Consent(tenant=tenant, customer=customer, channel=channel)
    consent.state, consent.source, consent.version = state, source, version
    consent.reason, consent.changed_at, consent.changed_by = reason, at, actor
    consent.save()
    ConsentEvent.objects.create(
        tenant=tenant,
        customer=customer,
        channel=channel,
        state=state,
        source=source,
        version=version,
        reason=reason,
        occurred_at=at,
        actor_name=str(actor or ""),
    )
    return consent


def consent_allows(*, tenant: Tenant, customer_id: int, channel: str) -> bool:
    """Marketing on ``channel`` is allowed only after a recorded opt-in that was not withdrawn."""
    return Consent.objects.filter(
        tenant=tenant, customer_id=customer_id, channel=channel, state=ConsentState.GRANTED
    ).exists()


# --- one-click opt-out links -----------------------------------------------------------------


@dataclass(frozen=True)
class OptOutTarget:
    tenant: Tenant
    customer_id: int
    channel: str


def opt_out_token(*, tenant: Tenant, customer_id: int, channel: str) -> str:
    """A signed, non-expiring, deterministic token: an opt-out link in an old message keeps working."""
    payload = {"t": tenant.pk, "c": customer_id, "ch": channel}
    return signing.Signer(salt=OPT_OUT_SALT).sign_object(payload, compress=True)


def opt_out_url(*, tenant: Tenant, customer_id: int, channel: str) -> str:
    return reverse(
        "engagement:opt-out", args=[opt_out_token(tenant=tenant, customer_id=customer_id, channel=channel)]
    )


def opt_out_resolve(token: str) -> OptOutTarget | None:
    """The tenant, customer and channel a token names, or None if forged, malformed or inactive."""
    if not token or len(token) > 300:
        return None
    try:
        payload = signing.Signer(salt=OPT_OUT_SALT).unsign_object(token)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("ch") not in ConsentChannel.values:
        return None
    tenant_id, customer_id = payload.get("t"), payload.get("c")
    if not isinstance(tenant_id, int) or not isinstance(customer_id, int):
        return None
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        return None
    return OptOutTarget(tenant=tenant, customer_id=customer_id, channel=payload["ch"])


@transaction.atomic
def consent_opt_out(*, tenant: Tenant, customer_id: int, channel: str, all_channels: bool = False) -> int:
    """The customer withdrew consent through a link; returns how many channels changed."""
    customer = Customer.objects.filter(tenant=tenant, pk=customer_id).first()
    if customer is None:
        return 0
    channels = ConsentChannel.values if all_channels else [channel]
    changed = 0
    for each in channels:
        before = Consent.objects.filter(tenant=tenant, customer=customer, channel=each).first()
        if before is None or before.state == ConsentState.WITHDRAWN:
            continue
        consent_record(
            tenant=tenant,
            customer=customer,
            channel=each,
            state=ConsentState.WITHDRAWN,
            source=ConsentSource.OPT_OUT_LINK,
            version=before.version,
            reason="客户通过退订链接退订",
        )
        changed += 1
    return changed
