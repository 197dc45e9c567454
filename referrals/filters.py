"""Query parameters of the referral lists (one rule for bad values: see ``crm.filters``)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from crm.filters import FilterSet, IdFilter
from referrals.models import LedgerEntry, Referral, ReferralAccount, ReferralStatus


class ReferralFilter(FilterSet):
    referrer = IdFilter(field_name="referrer_id", label=_("推荐人"))
    referred = IdFilter(field_name="referred_id", label=_("被推荐人"))
    status = django_filters.ChoiceFilter(choices=ReferralStatus.choices, label=_("状态"))

    class Meta:
        model = Referral
        fields: list[str] = []


class LedgerFilter(FilterSet):
    account = IdFilter(field_name="account_id", label=_("账户"))

    class Meta:
        model = LedgerEntry
        fields: list[str] = []


class AccountFilter(FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("客户"))

    class Meta:
        model = ReferralAccount
        fields: list[str] = []
