"""Referral factories (also registered for the cross-tenant probe). Create inside tenant_context."""

from __future__ import annotations

import factory

from referrals.models import LedgerEntry, Referral, ReferralAccount, ReferralSettings, ReferralSource
from referrals.services import _common, accounts, ledger
from tests.customers.factories import CustomerFactory
from tests.factories import probe_factory


class ReferralAccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferralAccount

    customer = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    code = factory.LazyFunction(accounts._new_code)


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    referrer = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    referred = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    source = ReferralSource.MANUAL


class ReferralSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReferralSettings
        django_get_or_create = ("tenant",)


def funded_account(tenant, amount_fen: int = 100_000, customer=None) -> ReferralAccount:
    """An account holding ``amount_fen`` through a real ledger entry (cached balance == entries)."""
    customer = customer or CustomerFactory(tenant=tenant)
    account = accounts.referral_account_ensure(tenant=tenant, customer=customer)
    account = _common._lock_account(account.pk)
    ledger._append_entry(
        tenant=tenant,
        account=account,
        kind="adjustment",
        amount_fen=amount_fen,
        idempotency_key=f"test-fund:{account.pk}",
        reason="测试注资",
    )
    return account


@probe_factory(ReferralAccount)
def _account(tenant) -> ReferralAccount:
    return funded_account(tenant, 50_000)


@probe_factory(Referral)
def _referral(tenant) -> Referral:
    return ReferralFactory(tenant=tenant)


@probe_factory(LedgerEntry)
def _entry(tenant) -> LedgerEntry:
    return funded_account(tenant, 10_000).entries.get()


@probe_factory(ReferralSettings)
def _settings(tenant) -> ReferralSettings:
    return ReferralSettingsFactory(tenant=tenant)
