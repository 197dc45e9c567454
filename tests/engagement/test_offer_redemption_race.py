"""Two staff redeem the last unit of an offer at the same moment, against two customers'
quotations: exactly one wins, the other gets ``offer_exhausted``, and only the winner's quotation
carries the discount (¥50.00 off a ¥100.00 quotation). Real threads, each with its own
PostgreSQL connection."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.utils import timezone

from crm.models import Role
from crm.tenancy import tenant_context
from engagement.models import Campaign, Offer, Redemption
from engagement.services.campaigns import offer_redeem
from quotes.models import Quotation
from tests.customers.factories import CustomerFactory
from tests.factories import StaffFactory
from tests.quotes.factories import make_quotation
from tests.referrals.concurrency import prepare_tenant, race

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_concurrent_redemptions_of_the_last_unit():
    assert connection.vendor == "postgresql"
    tenant = prepare_tenant("race-offer")
    today = timezone.localdate()
    with tenant_context(tenant):
        staff = StaffFactory(tenant=tenant, roles=[Role.MANAGER])
        campaign = Campaign.objects.create(
            tenant=tenant, name="家博会", channel="home_expo", starts_on=today, ends_on=today
        )
        offer = Offer.objects.create(
            tenant=tenant,
            campaign=campaign,
            name="最后一张代金券",
            kind="voucher",
            value_fen=5_000,
            valid_from=today - datetime.timedelta(days=1),
            valid_until=today + datetime.timedelta(days=1),
            quantity=1,
        )
        customers = [CustomerFactory(tenant=tenant) for _ in range(2)]
        quotations = [make_quotation(tenant, customer=customer) for customer in customers]

    def work(index: int):
        with tenant_context(tenant):
            return offer_redeem(
                tenant=tenant,
                offer=offer,
                customer=customers[index],
                quotation=quotations[index],
                redeemed_by=staff,
            ).pk

    result = race(2, work)
    assert result.count("error") == 0, result.outcomes
    assert result.count("ok") == 1 and result.count("rejected") == 1
    rejected = next(outcome[1] for outcome in result.outcomes if outcome[0] == "rejected")
    assert rejected.error_dict["offer"][0].code == "offer_exhausted"
    with tenant_context(tenant):
        assert Redemption.objects.filter(offer=offer).count() == 1
        winner = Redemption.objects.get(offer=offer).quotation_id
        discounts = dict(
            Quotation.objects.filter(pk__in=[q.pk for q in quotations]).values_list("pk", "discount_fen")
        )
        assert discounts == {q.pk: (5_000 if q.pk == winner else 0) for q in quotations}
