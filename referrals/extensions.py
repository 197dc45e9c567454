"""What referrals adds to the customer detail page (crm.extensions): a panel and timeline entries."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.extensions import Panel, TimelineEntry
from crm.models import Tenant
from crm.money import format_fen_number
from crm.permissions import has_permission
from customers.models import Customer
from referrals import selectors
from referrals.forms import LinkReferrerForm
from referrals.models import EntryKind, LedgerEntry, Referral
from referrals.services import accounts, settings


def customer_url(customer_id: int) -> str:
    try:
        return reverse("customers:detail", args=[customer_id])
    except NoReverseMatch:
        return ""


def customer_referral_panel(*, request, tenant: Tenant, customer_id: int) -> Panel | None:
    """Code and share link, who referred this customer, whom they referred, balance and recent ledger."""
    if not has_permission(request.user, "referrals.view"):
        return None
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return None
    account = accounts.referral_account_ensure(tenant=tenant, customer=customer)
    context = {
        "customer": customer,
        "account": account,
        "share_url": accounts.referral_share_url(tenant=tenant, account=account, request=request),
        "referred_by": Referral.objects.select_related("referrer").filter(referred_id=customer_id).first(),
        "referrals": list(selectors.referrals_for_list(tenant=tenant, referrer_id=customer_id)[:20]),
        "entries": list(selectors.ledger_for_list(tenant=tenant, account_id=account.pk)[:5]),
        "rule": settings.referral_settings_get(tenant=tenant),
        "link_form": LinkReferrerForm(),
        "can_edit": has_permission(request.user, "referrals.edit"),
    }
    html = render_to_string("referrals/_customer_panel.html", context, request=request)
    return Panel(title=_("转介绍 · 装修基金"), html=html, order=60)


KIND_TITLES = {
    EntryKind.CREDIT: gettext_lazy("转介绍奖励入账"),
    EntryKind.REDEMPTION: gettext_lazy("装修基金抵扣"),
    EntryKind.REVERSAL: gettext_lazy("转介绍奖励冲正"),
    EntryKind.ADJUSTMENT: gettext_lazy("装修基金人工调整"),
}


def customer_referral_timeline(*, tenant: Tenant, customer_id: int) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for referral in Referral.objects.select_related("referrer", "referred").filter(referrer_id=customer_id)[
        :50
    ]:
        entries.append(
            TimelineEntry(
                occurred_at=referral.created_at,
                kind="referral",
                title=_("推荐了新客户 %(name)s") % {"name": referral.referred.name},
                detail=referral.get_status_display(),
                url=customer_url(referral.referred_id),
            )
        )
    referred_by = Referral.objects.select_related("referrer").filter(referred_id=customer_id).first()
    if referred_by is not None:
        entries.append(
            TimelineEntry(
                occurred_at=referred_by.created_at,
                kind="referral",
                title=_("由 %(name)s 推荐而来") % {"name": referred_by.referrer.name},
                detail=referred_by.get_source_display(),
                url=customer_url(referred_by.referrer_id),
            )
        )
    ledger = LedgerEntry.objects.select_related("created_by").filter(account__customer_id=customer_id)[:50]
    for entry in ledger:
        entries.append(
            TimelineEntry(
                occurred_at=entry.created_at,
                kind="referral",
                title=str(KIND_TITLES[entry.kind]),
                detail=_("%(amount)s 元 · %(description)s")
                % {
                    "amount": format_fen_number(entry.amount_fen, sign=True),
                    "description": entry.description,
                },
                actor=str(entry.created_by or ""),
            )
        )
    return entries


def referral_dashboard_widget(*, request, tenant: Tenant) -> Panel | None:
    """看板: 转介绍占比 of new contracts (this month and last 90 days) and the top referrers."""
    if not has_permission(request.user, "referrals.view"):
        return None
    import datetime

    from django.utils import timezone

    today = timezone.localdate()
    context = {
        "share_month": selectors.referral_share_of_new_contracts(
            tenant=tenant, start=today.replace(day=1), end=today
        ),
        "share_90": selectors.referral_share_of_new_contracts(
            tenant=tenant, start=today - datetime.timedelta(days=89), end=today
        ),
        "leaders": selectors.leaderboard(tenant=tenant, limit=5),
        "reviews": selectors.vip_reviews_pending(tenant=tenant).count(),
    }
    html = render_to_string("referrals/_dashboard_widget.html", context, request=request)
    return Panel(title=_("转介绍占比"), html=html, order=50)
