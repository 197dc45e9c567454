"""What referrals adds to the customer detail page (crm.extensions): a panel and timeline entries."""

from __future__ import annotations

from types import SimpleNamespace

from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.extensions import CustomerSection, Panel, TimelineEntry, render_panel
from crm.models import Tenant
from crm.money import format_fen_number
from crm.page_data import PageQuery, at, label, person, row, rows, when
from crm.permissions import has_permission
from customers.models import Customer
from referrals import selectors
from referrals.models import (
    EntryKind,
    Referral,
    ReferralAccount,
    ReferralSettings,
    ReferralSource,
    ReferralStatus,
)
from referrals.services import accounts, settings


def customer_url(customer_id: int) -> str:
    try:
        return reverse("customers:detail", args=[customer_id])
    except NoReverseMatch:
        return ""


KIND_TITLES = {
    EntryKind.CREDIT: gettext_lazy("转介绍奖励入账"),
    EntryKind.REDEMPTION: gettext_lazy("装修基金抵扣"),
    EntryKind.REVERSAL: gettext_lazy("转介绍奖励冲正"),
    EntryKind.ADJUSTMENT: gettext_lazy("装修基金人工调整"),
}


# --------------------------------------------------------------------------- customer page section
# Referrals and the fund's ledger on the customer's timeline, and the referral panel, read in the
# customer page's single statement (crm.extensions.customer_page).

REFERRALS_SQL = """
SELECT r.created_at, r.status, r.referred_id, c.name AS referred FROM referrals_referral r
JOIN customers_customer c ON c.id = r.referred_id
WHERE r.tenant_id = %s AND r.referrer_id = %s ORDER BY r.created_at DESC, r.id DESC LIMIT %s"""
REFERRED_BY_SQL = """
SELECT r.created_at, r.status, r.source, r.referrer_id, c.name AS referrer FROM referrals_referral r
JOIN customers_customer c ON c.id = r.referrer_id
WHERE r.tenant_id = %s AND r.referred_id = %s ORDER BY r.created_at DESC, r.id DESC LIMIT 1"""
LEDGER_SQL = f"""
SELECT e.created_at, e.kind, e.amount_fen, e.shortfall_change_fen, e.description, {person("u")} AS created_by
FROM referrals_ledgerentry e JOIN referrals_referralaccount a ON a.id = e.account_id
LEFT JOIN crm_user u ON u.id = e.created_by_id
WHERE e.tenant_id = %s AND a.customer_id = %s ORDER BY e.id DESC LIMIT %s"""
ACCOUNT_SQL = """
SELECT a.id, a.code, a.balance_fen, a.shortfall_fen, a.credited_referrals, a.is_vip, a.vip_review_needed
FROM referrals_referralaccount a WHERE a.tenant_id = %s AND a.customer_id = %s"""
RULE_SQL = "SELECT s.vip_title FROM referrals_referralsettings s WHERE s.tenant_id = %s ORDER BY s.id LIMIT 1"


def _timeline_queries(*, tenant, customer_id: int) -> dict[str, PageQuery]:
    return {
        "referrals": rows(REFERRALS_SQL, [tenant.pk, customer_id, 50]),
        "referred_by": row(REFERRED_BY_SQL, [tenant.pk, customer_id]),
        "ledger": rows(LEDGER_SQL, [tenant.pk, customer_id, 50]),
    }


def _timeline(*, data: dict) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for referral in data["referrals"]:
        entries.append(
            TimelineEntry(
                occurred_at=at(referral["created_at"]),
                kind="referral",
                title=_("推荐了新客户 %(name)s") % {"name": referral["referred"]},
                detail=label(ReferralStatus, referral["status"]),
                url=customer_url(referral["referred_id"]),
            )
        )
    referred_by = data["referred_by"]
    if referred_by is not None:
        entries.append(
            TimelineEntry(
                occurred_at=at(referred_by["created_at"]),
                kind="referral",
                title=_("由 %(name)s 推荐而来") % {"name": referred_by["referrer"]},
                detail=label(ReferralSource, referred_by["source"]),
                url=customer_url(referred_by["referrer_id"]),
            )
        )
    for entry in data["ledger"]:
        entries.append(
            TimelineEntry(
                occurred_at=at(entry["created_at"]),
                kind="referral",
                title=str(KIND_TITLES[entry["kind"]]),
                detail=_("%(amount)s 元 · %(description)s")
                % {
                    "amount": format_fen_number(entry["amount_fen"], sign=True),
                    "description": entry["description"],
                },
                actor=entry["created_by"] or "",
            )
        )
    return entries


def _panel_queries(
    *,
    request,
    tenant: Tenant,
    customer_id: int,
    checked: bool,  # noqa: ARG001
) -> dict[str, PageQuery] | None:
    if not has_permission(request.user, "referrals.view"):
        return None
    # referred_by, the twenty newest referrals and the five newest entries: the timeline's rows
    return {"account": row(ACCOUNT_SQL, [tenant.pk, customer_id]), "rule": row(RULE_SQL, [tenant.pk])}


def _panel(*, request, tenant: Tenant, customer_id: int, data: dict) -> Panel | None:
    """Code and share link, who referred this customer, whom they referred, balance and recent ledger."""
    if data["account"] is not None:
        account = ReferralAccount(tenant_id=tenant.pk, customer_id=customer_id, **data["account"])
    else:  # the customer's first visit: create the account (and its code)
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            return None
        account = accounts.referral_account_ensure(tenant=tenant, customer=customer)
    referred_by = data["referred_by"]
    context = {
        "customer_id": customer_id,
        "account": account,
        "share_url": accounts.referral_share_url(tenant=tenant, account=account, request=request),
        "referred_by": SimpleNamespace(
            referrer_id=referred_by["referrer_id"],
            referrer_name=referred_by["referrer"],
            status_label=label(ReferralStatus, referred_by["status"]),
        )
        if referred_by
        else None,
        "referrals": [
            SimpleNamespace(
                referred_name=referral["referred"],
                status_label=label(ReferralStatus, referral["status"]),
                created_at=when(referral["created_at"]),
            )
            for referral in data["referrals"][:20]
        ],
        "entries": [
            SimpleNamespace(
                created_at=when(entry["created_at"]),
                kind_label=label(EntryKind, entry["kind"]),
                amount_fen=entry["amount_fen"],
                shortfall_change_fen=entry["shortfall_change_fen"],
                description=entry["description"],
            )
            for entry in data["ledger"][:5]
        ],
        "rule": SimpleNamespace(vip_title=data["rule"]["vip_title"])
        if data["rule"]
        else ReferralSettings(tenant=tenant),
        "can_edit": has_permission(request.user, "referrals.edit"),
    }
    html = render_panel("referrals/_customer_panel.html", context, request=request)
    return Panel(title=_("转介绍 · 装修基金"), html=html, order=60)


CUSTOMER_SECTION = CustomerSection(
    name="referrals",
    timeline_queries=_timeline_queries,
    timeline=_timeline,
    panel_queries=_panel_queries,
    panel=_panel,
)


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


# --------------------------------------------------------------------------- customer merge


def _merge_error(message: str, code: str):
    from django.core.exceptions import ValidationError

    return ValidationError({"duplicate": [ValidationError(message, code=code)]})


def merge_customer_referrals(*, tenant, source, target, actor, merge) -> dict:
    """Customer merge (crm.extensions): referrals (as referrer and referee) and the fund follow the survivor.

    If only the duplicate has an account, the account itself moves. If both have one, the
    duplicate's balance (and any unrecovered shortfall) moves through two ledger entries — out of
    the duplicate's account, into the survivor's — so the ledger stays append-only and each
    account's entries still sum to its balance, to the fen. Accounts are locked in id order.
    """
    from django.db.models import Q

    from customers.services.merge import move_customer_rows, moved_key
    from referrals.models import ReferralAccount
    from referrals.services._common import _apply_customer_facts, _lock_account
    from referrals.services.ledger import _append_entry, _grant_vip_if_earned

    if Referral.objects.filter(
        Q(referrer=source, referred=target) | Q(referrer=target, referred=source)
    ).exists():
        raise _merge_error(
            _("这两位客户之间有转介绍关系，请先取消该转介绍再合并。"), "merge_referral_between"
        )
    if (
        Referral.objects.filter(referred=source).exists()
        and Referral.objects.filter(referred=target).exists()
    ):
        raise _merge_error(
            _("两位客户各有一位推荐人，合并后只能保留一位：请先处理其中一条转介绍。"), "merge_two_referrers"
        )
    moved = {
        moved_key(Referral, "referrer"): move_customer_rows(
            Referral, "referrer", source=source, target=target
        ),
        moved_key(Referral, "referred"): move_customer_rows(
            Referral, "referred", source=source, target=target
        ),
    }
    record: dict = {"moved": moved}
    theirs = ReferralAccount.objects.filter(customer=source).first()
    ours = ReferralAccount.objects.filter(customer=target).first()
    if theirs is None:
        if ours is not None and moved[moved_key(Referral, "referrer")]:
            _apply_customer_facts(tenant=tenant, account=ours)
        return record
    if ours is None:
        moved[moved_key(ReferralAccount, "customer")] = move_customer_rows(
            ReferralAccount, "customer", source=source, target=target
        )
        ours = ReferralAccount.objects.get(pk=theirs.pk)
        _apply_customer_facts(tenant=tenant, account=ours)
        return record
    first, second = sorted([theirs.pk, ours.pk])
    locked = {first: _lock_account(first), second: _lock_account(second)}
    theirs, ours = locked[theirs.pk], locked[ours.pk]
    balance, shortfall = theirs.balance_fen, theirs.shortfall_fen
    note = _("客户 #%(source)s 合并到 #%(target)s") % {"source": source.pk, "target": target.pk}
    if balance or shortfall:
        kind = EntryKind.ADJUSTMENT if balance else EntryKind.REVERSAL
        out = _append_entry(
            tenant=tenant,
            account=theirs,
            kind=kind,
            amount_fen=-balance,
            shortfall_change_fen=-shortfall,
            idempotency_key=f"merge:{merge.pk}:out",
            description=_("合并转出"),
            reason=note,
            created_by=actor,
        )
        into = _append_entry(
            tenant=tenant,
            account=ours,
            kind=kind if not balance else EntryKind.ADJUSTMENT,
            amount_fen=balance,
            shortfall_change_fen=shortfall,
            idempotency_key=f"merge:{merge.pk}:in",
            description=_("合并转入"),
            reason=note,
            created_by=actor,
        )
        record["ledger_entries"] = [out.pk, into.pk]
    record.update(
        {
            "from_account": theirs.pk,
            "to_account": ours.pk,
            "balance_fen": balance,
            "shortfall_fen": shortfall,
            "credited_referrals": theirs.credited_referrals,
        }
    )
    ours.credited_referrals += theirs.credited_referrals
    theirs.credited_referrals = 0
    theirs.save(update_fields=["credited_referrals", "updated_at"])
    _grant_vip_if_earned(tenant=tenant, account=ours, rule=settings.referral_settings_get(tenant=tenant))
    ours.save(update_fields=["credited_referrals", "is_vip", "vip_since", "vip_review_needed", "updated_at"])
    _apply_customer_facts(tenant=tenant, account=ours)
    return record


def unmerge_customer_referrals(*, tenant, source, target, actor, merge, record) -> None:
    """Undo of a merge: a transferred balance goes back through two more entries (refused if spent)."""
    from referrals.models import ReferralAccount
    from referrals.services._common import _apply_customer_facts, _lock_account
    from referrals.services.ledger import _append_entry

    if "to_account" not in record:
        for account in ReferralAccount.objects.filter(customer__in=[source, target]):
            _apply_customer_facts(tenant=tenant, account=account)
        return
    first, second = sorted([record["from_account"], record["to_account"]])
    locked = {first: _lock_account(first), second: _lock_account(second)}
    theirs, ours = locked[record["from_account"]], locked[record["to_account"]]
    balance, shortfall = record["balance_fen"], record["shortfall_fen"]
    if ours.balance_fen < balance or ours.shortfall_fen < shortfall:
        raise _merge_error(
            _("合并转入的转介绍奖励金已被使用，不能撤销合并（当前余额 ¥%(balance)s）。")
            % {"balance": format_fen_number(ours.balance_fen)},
            "merge_fund_spent",
        )
    note = _("撤销合并 #%(merge)s") % {"merge": merge.pk}
    if balance or shortfall:
        kind = EntryKind.ADJUSTMENT if balance else EntryKind.REVERSAL
        _append_entry(
            tenant=tenant,
            account=ours,
            kind=kind,
            amount_fen=-balance,
            shortfall_change_fen=-shortfall,
            idempotency_key=f"unmerge:{merge.pk}:out",
            description=_("撤销合并转出"),
            reason=note,
            created_by=actor,
        )
        _append_entry(
            tenant=tenant,
            account=theirs,
            kind=EntryKind.ADJUSTMENT if balance else kind,
            amount_fen=balance,
            shortfall_change_fen=shortfall,
            idempotency_key=f"unmerge:{merge.pk}:in",
            description=_("撤销合并转入"),
            reason=note,
            created_by=actor,
        )
    moved_back = min(record["credited_referrals"], ours.credited_referrals)
    ours.credited_referrals -= moved_back
    theirs.credited_referrals += moved_back
    for account in (ours, theirs):
        account.save(update_fields=["credited_referrals", "updated_at"])
        _apply_customer_facts(tenant=tenant, account=account)
