"""The one marketing send path: consent checked here, opt-out link appended, then crm.notifications.

Every push, campaign message or content item reaches a customer through :func:`marketing_send`,
so an opted-out (or never opted-in) customer cannot be messaged by any caller. A refusal is a
``ValidationError`` whose code says why: ``opted_out`` (no consent, withdrawn, anonymised) or
``no_address`` (e-mail to a customer without an address).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Tenant
from crm.notifications.bulk import SmsSpec, sms_send_many
from crm.notifications.services import email_send, notify, sms_send
from crm.permissions import RECEIVES_ESCALATIONS
from crm.selectors import staff_of_tenant
from customers.models import Customer
from engagement.models import Consent, ConsentChannel, ConsentState
from engagement.services.consent import consent_allows, opt_out_token, opt_out_url
from sales.services import task_create

SENDABLE_CHANNELS = (ConsentChannel.SMS, ConsentChannel.WECHAT, ConsentChannel.EMAIL)
OPTED_OUT = "opted_out"
NO_ADDRESS = "no_address"


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
    """Send one marketing message, or raise ``ValidationError`` (code ``opted_out``, or ``no_address``
    for e-mail to a customer without one) and send nothing.

    SMS goes to the customer with the opt-out link appended; e-mail goes to the customer's address
    through the notifications outbox (durable, retried) with the opt-out link in the body and in
    the ``List-Unsubscribe`` header (RFC 8058 one-click); ``wechat`` (WeChat-first companies)
    becomes a to-do (sales ``Task``) plus a notification for the customer's owner ("send this to the
    customer"), carrying the link and the opt-out link to forward.
    """
    if channel not in SENDABLE_CHANNELS:
        raise ValidationError(
            {"channel": ValidationError(_("该渠道暂不支持发送。"), code="unsupported_channel")}
        )
    if customer.tenant_id != tenant.pk:
        raise ValidationError({"customer": ValidationError(_("客户不存在。"), code="not_found")})
    if customer.is_anonymised or not consent_allows(tenant=tenant, customer_id=customer.pk, channel=channel):
        raise ValidationError(
            {"customer": ValidationError(_("客户未授权或已退订该渠道的营销信息，未发送。"), code=OPTED_OUT)}
        )
    if channel == ConsentChannel.EMAIL and not customer.email:
        raise ValidationError({"customer": ValidationError(_("客户没有邮箱地址，未发送。"), code=NO_ADDRESS)})
    unsubscribe = public_url(opt_out_url(tenant=tenant, customer_id=customer.pk, channel=channel))
    if channel == ConsentChannel.EMAIL:
        email_send(
            tenant=tenant,
            address=customer.email,
            subject=f"[{tenant.name}] {title}",
            body=marketing_email_body(
                tenant=tenant, customer=customer, body=body, link=link, unsubscribe=unsubscribe
            ),
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            },
            dedupe_key=dedupe_key,
        )
        return
    if channel == ConsentChannel.SMS:
        text = f"【{tenant.name}】{title}" + (f" {body}" if body else "") + (f" {link}" if link else "")
        sms_send(
            tenant=tenant, phone=customer.phone, message=f"{text} 退订：{unsubscribe}", dedupe_key=dedupe_key
        )
        return
    owner = customer.owner if customer.owner_id else None
    assignee = owner if owner is not None and owner.is_active else None
    if assignee is None:
        assignee = next(iter(staff_of_tenant(tenant=tenant, duty=RECEIVES_ESCALATIONS)), None)
    if assignee is None:
        raise ValidationError(
            {"channel": ValidationError(_("没有可以代发的员工（客户无负责人）。"), code="no_staff")}
        )
    note = "\n".join(part for part in (body, link, _("退订链接：%(url)s") % {"url": unsubscribe}) if part)
    task_create(
        tenant=tenant,
        actor=None,
        customer=customer,
        title=(_("请发给客户：%(title)s") % {"title": title})[:200],
        note=note[:500],
        due_at=timezone.now() + datetime.timedelta(days=1),
        assignee=assignee,
    )
    notify(
        tenant=tenant,
        recipients=[assignee],
        kind="engagement_push",
        title=_("请发给客户 %(name)s：%(title)s") % {"name": customer.name, "title": title},
        body=note,
        link=reverse("customers:detail", args=[customer.pk]),
        dedupe_key=dedupe_key,
    )


def marketing_email_body(
    *, tenant: Tenant, customer: Customer, body: str, link: str, unsubscribe: str
) -> str:
    """Plain text: greeting, the item's summary, its tracked link, and the opt-out link (PIPL)."""
    parts = [_("%(name)s，您好：") % {"name": customer.name}]
    if body:
        parts.append(body)
    if link:
        parts.append(_("查看详情：%(url)s") % {"url": link})
    parts.append(
        "—— "
        + tenant.name
        + "\n"
        + _("您收到这封邮件，是因为您同意接收我们的装修资料和活动信息。")
        + "\n"
        + _("不想再收到？一键退订：%(url)s") % {"url": unsubscribe}
    )
    return "\n\n".join(parts)


# --- batched sends (push rule runs) --------------------------------------------------------------


@dataclass(frozen=True)
class MarketingMessage:
    """One :func:`marketing_send` for :func:`marketing_send_many` (the channel is per batch)."""

    customer: Customer
    title: str
    body: str
    dedupe_key: str
    link: str = ""


def marketing_send_many(*, tenant: Tenant, channel: str, messages: Sequence[MarketingMessage]) -> set[int]:
    """:func:`marketing_send` for a batch on one channel; returns the customer ids sent to.

    The same consent rule, checked for the whole batch in one query in the caller's transaction:
    a customer without a current opt-in, anonymised or of another tenant is left out and receives
    nothing. SMS go to the outbox in one statement (``sms_send_many``); WeChat staff tasks are
    created one by one (a to-do per customer, as :func:`marketing_send`).
    """
    if channel not in SENDABLE_CHANNELS:
        raise ValidationError(
            {"channel": ValidationError(_("该渠道暂不支持发送。"), code="unsupported_channel")}
        )
    candidates = {
        m.customer.pk: m
        for m in messages
        if m.customer.tenant_id == tenant.pk and not m.customer.is_anonymised
    }
    allowed = set(
        Consent.objects.filter(
            tenant=tenant, channel=channel, state=ConsentState.GRANTED, customer_id__in=list(candidates)
        ).values_list("customer_id", flat=True)
    )
    if channel == ConsentChannel.SMS:
        specs = []
        # One reverse() for the batch: the opt-out path around a sample token, then each token.
        sample_token = opt_out_token(tenant=tenant, customer_id=0, channel=channel)
        head, tail = opt_out_url(tenant=tenant, customer_id=0, channel=channel).split(sample_token, 1)
        for customer_id in sorted(allowed):
            m = candidates[customer_id]
            token = opt_out_token(tenant=tenant, customer_id=customer_id, channel=channel)
            unsubscribe = public_url(f"{head}{token}{tail}")
            text = (
                f"【{tenant.name}】{m.title}"
                + (f" {m.body}" if m.body else "")
                + (f" {m.link}" if m.link else "")
            )
            specs.append(
                SmsSpec(
                    phone=m.customer.phone, message=f"{text} 退订：{unsubscribe}", dedupe_key=m.dedupe_key
                )
            )
        sms_send_many(tenant=tenant, messages=specs)
        return allowed
    sent = set()
    for customer_id in sorted(allowed):
        m = candidates[customer_id]
        try:
            with transaction.atomic():
                marketing_send(
                    tenant=tenant,
                    customer=m.customer,
                    channel=channel,
                    title=m.title,
                    body=m.body,
                    link=m.link,
                    dedupe_key=m.dedupe_key,
                )
        except ValidationError:  # no staff to forward it: nothing written for this customer
            continue
        sent.add(customer_id)
    return sent
