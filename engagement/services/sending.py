"""The one marketing send path: consent checked here, opt-out link appended, then crm.notifications.

Every push, campaign message or content item reaches a customer through :func:`marketing_send`,
so an opted-out (or never opted-in) customer cannot be messaged by any caller.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.translation import gettext as _

from crm.models import Tenant
from crm.notifications.services import notify, sms_send
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant
from customers.models import Customer
from engagement.models import ConsentChannel
from engagement.services.consent import consent_allows, opt_out_url

SENDABLE_CHANNELS = (ConsentChannel.SMS, ConsentChannel.WECHAT)


def public_url(path: str) -> str:
    base = getattr(settings, "SITE_URL", "") or ""
    return base.rstrip("/") + path


def marketing_send(
    *,
    tenant: Tenant,
    customer: Customer,
    channel: str,
    title: str,
    body: str,
    dedupe_key: str,
    link: str = "",
) -> None:
    """Send one marketing message, or raise ``ValidationError`` (code ``opted_out``) and send nothing.

    SMS goes to the customer with the opt-out link appended; ``wechat`` (WeChat-first companies)
    becomes a staff task for the customer's owner ("send this to the customer"), carrying the
    opt-out link to forward. E-mail is not sendable: customers have no e-mail address on file.
    """
    if channel not in SENDABLE_CHANNELS:
        raise ValidationError(
            {"channel": ValidationError(_("该渠道暂不支持发送。"), code="unsupported_channel")}
        )
    if customer.tenant_id != tenant.pk:
        raise ValidationError({"customer": ValidationError(_("客户不存在。"), code="not_found")})
    if customer.is_anonymised or not consent_allows(tenant=tenant, customer_id=customer.pk, channel=channel):
        raise ValidationError(
            {"customer": ValidationError(_("客户未授权或已退订该渠道的营销信息，未发送。"), code="opted_out")}
        )
    unsubscribe = public_url(opt_out_url(tenant=tenant, customer_id=customer.pk, channel=channel))
    if channel == ConsentChannel.SMS:
        text = f"【{tenant.name}】{title}" + (f" {body}" if body else "") + (f" {link}" if link else "")
        sms_send(
            tenant=tenant, phone=customer.phone, message=f"{text} 退订：{unsubscribe}", dedupe_key=dedupe_key
        )
        return
    owner = customer.owner if customer.owner_id else None
    recipients = [owner] if owner is not None and owner.is_active else []
    if not recipients:
        recipients = staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)
    notify(
        tenant=tenant,
        recipients=recipients,
        kind="engagement_push",
        title=f"请发给客户 {customer.name}：{title}",
        body="\n".join(part for part in (body, link, f"退订链接：{unsubscribe}") if part),
        link=reverse("customers:detail", args=[customer.pk]),
        dedupe_key=dedupe_key,
    )
