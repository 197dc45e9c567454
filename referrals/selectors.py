"""Reads shared by pages, API, dashboards and the reconciliation command."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from crm.models import Tenant, User
from customers.models import Customer
from customers.selectors import customer_survivor
from customers.visibility import rows_visible_to
from projects.models import Project
from referrals.models import LedgerEntry, Referral, ReferralAccount, ReferralStatus


def referrer_for_code(code: str) -> Customer | None:
    """Whose referral code this is, in the current tenant; a merged duplicate's code credits its survivor."""
    value = (code or "").strip().upper()
    if not value:
        return None
    account = ReferralAccount.objects.select_related("customer").filter(code=value).first()
    return customer_survivor(account.customer) if account else None


def referrals_for_list(
    *, tenant: Tenant, referrer_id: int | None = None, referred_id: int | None = None, status: str = ""
) -> QuerySet[Referral]:
    queryset = Referral.objects.select_related("referrer", "referred", "signed_project")
    if referrer_id:
        queryset = queryset.filter(referrer_id=referrer_id)
    if referred_id:
        queryset = queryset.filter(referred_id=referred_id)
    if status:
        queryset = queryset.filter(status=status)
    return queryset.order_by("-created_at", "-id")


def accounts_for_list(*, tenant: Tenant) -> QuerySet[ReferralAccount]:
    return ReferralAccount.objects.select_related("customer").order_by(
        "-credited_referrals", "-balance_fen", "id"
    )


def ledger_for_list(*, tenant: Tenant, account_id: int | None = None) -> QuerySet[LedgerEntry]:
    queryset = LedgerEntry.objects.select_related("account__customer", "project", "created_by")
    if account_id:
        queryset = queryset.filter(account_id=account_id)
    return queryset.order_by("-id")


def account_for_customer(*, tenant: Tenant, customer_id: int) -> ReferralAccount | None:
    return ReferralAccount.objects.select_related("customer").filter(customer_id=customer_id).first()


def leaderboard(*, tenant: Tenant, limit: int = 20, user: User | None = None) -> list[ReferralAccount]:
    """Referrers ranked by credited referrals, then by how many they brought in at all (with
    ``user``: among the customers they may see)."""
    referred_count = (
        Referral.objects.filter(referrer_id=OuterRef("customer_id"))
        .order_by()
        .values("referrer_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    earned = (  # net of reversals: a shortfall still counts as taken back
        LedgerEntry.objects.filter(account_id=OuterRef("pk"), kind__in=["credit", "reversal"])
        .order_by()
        .values("account_id")
        .annotate(total=Sum(F("amount_fen") - F("shortfall_change_fen")))
        .values("total")
    )
    accounts = (
        ReferralAccount.objects.all()
        if user is None
        else rows_visible_to(user, ReferralAccount.objects.all())
    )
    return list(
        accounts.select_related("customer")
        .annotate(referred_total=Coalesce(referred_count, 0), earned_fen=Coalesce(earned, 0))
        .filter(Q(referred_total__gt=0) | Q(credited_referrals__gt=0))
        .order_by("-credited_referrals", "-referred_total", "-earned_fen", "id")[:limit]
    )


def vip_reviews_pending(*, tenant: Tenant, user: User | None = None) -> QuerySet[ReferralAccount]:
    accounts = ReferralAccount.objects.select_related("customer").filter(vip_review_needed=True)
    return accounts if user is None else rows_visible_to(user, accounts)


@dataclass(frozen=True)
class ReferralShare:
    start: datetime.date
    end: datetime.date
    new_contracts: int
    referred_contracts: int

    @property
    def share(self) -> float:
        """转介绍占比 as a fraction (0–1); 0 when there were no contracts."""
        return self.referred_contracts / self.new_contracts if self.new_contracts else 0.0

    @property
    def percent(self) -> str:
        return f"{self.share * 100:.1f}%"


def referral_share_of_new_contracts(
    *, tenant: Tenant, start: datetime.date, end: datetime.date
) -> ReferralShare:
    """转介绍占比: of contracts signed in [start, end], how many came from a referred customer."""
    signed = Project.objects.filter(signed_on__gte=start, signed_on__lte=end)
    if any(field.name == "cancelled_at" for field in Project._meta.get_fields()):
        signed = signed.filter(cancelled_at__isnull=True)
    referred = signed.filter(Exists(Referral.objects.filter(referred_id=OuterRef("customer_id"))))
    return ReferralShare(
        start=start, end=end, new_contracts=signed.count(), referred_contracts=referred.count()
    )


@dataclass(frozen=True)
class Discrepancy:
    account_id: int
    code: str
    cached_balance_fen: int
    entries_sum_fen: int
    cached_shortfall_fen: int
    entries_shortfall_fen: int
    last_balance_after_fen: int | None
    cached_credited_referrals: int = 0
    credited_referrals_in_records: int = 0

    def __str__(self) -> str:
        return (
            f"account {self.account_id} ({self.code}): cached balance {self.cached_balance_fen} vs "
            f"entries {self.entries_sum_fen}; shortfall {self.cached_shortfall_fen} vs "
            f"{self.entries_shortfall_fen}; last balance_after {self.last_balance_after_fen}; "
            f"credited referrals {self.cached_credited_referrals} vs {self.credited_referrals_in_records}"
        )


def ledger_discrepancies(*, tenant: Tenant) -> tuple[int, list[Discrepancy]]:
    """Every account whose cached figures differ from the records (there should be none).

    Cached balance == sum of entries, cached shortfall == sum of shortfall changes, the newest
    entry's balance_after == cached balance, and credited_referrals == referrals in "credited".
    Returns (accounts checked, discrepancies); two queries however many accounts.
    """
    last_balance = (
        LedgerEntry.objects.filter(account_id=OuterRef("pk")).order_by("-id").values("balance_after_fen")[:1]
    )
    credited = (
        Referral.objects.filter(referrer_id=OuterRef("customer_id"), status=ReferralStatus.CREDITED)
        .order_by()
        .values("referrer_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    rows = list(
        ReferralAccount.objects.annotate(
            entries_sum=Coalesce(Sum("entries__amount_fen"), 0),
            entries_shortfall=Coalesce(Sum("entries__shortfall_change_fen"), 0),
        ).values(
            "pk",
            "code",
            "balance_fen",
            "shortfall_fen",
            "credited_referrals",
            "entries_sum",
            "entries_shortfall",
        )
    )
    extra = {
        pk: (last, credited_count)
        for pk, last, credited_count in ReferralAccount.objects.annotate(
            last=last_balance, credited_count=Coalesce(credited, 0)
        ).values_list("pk", "last", "credited_count")
    }
    found = []
    for row in rows:
        last, credited_count = extra.get(row["pk"], (None, 0))
        if (
            row["balance_fen"] != row["entries_sum"]
            or row["shortfall_fen"] != row["entries_shortfall"]
            or (last is not None and last != row["balance_fen"])
            or row["credited_referrals"] != credited_count
        ):
            found.append(
                Discrepancy(
                    account_id=row["pk"],
                    code=row["code"],
                    cached_balance_fen=row["balance_fen"],
                    entries_sum_fen=row["entries_sum"],
                    cached_shortfall_fen=row["shortfall_fen"],
                    entries_shortfall_fen=row["entries_shortfall"],
                    last_balance_after_fen=last,
                    cached_credited_referrals=row["credited_referrals"],
                    credited_referrals_in_records=credited_count,
                )
            )
    return len(rows), found


def referral_counts_by_status(*, tenant: Tenant) -> dict[str, int]:
    counts = dict(Referral.objects.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in ReferralStatus.values}
