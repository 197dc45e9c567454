"""Customer factories (also registered for the cross-tenant probe)."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from customers.models import Customer, CustomerMerge, FollowUp, Lead, Segment
from tests.factories import probe_factory


class CustomerFactory(factory.django.DjangoModelFactory):
    """Create inside ``tenant_context(tenant)``; pass ``tenant=``."""

    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"客户{n}")
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")


class LeadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Lead

    customer = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    source_channel = "website"
    received_at = factory.LazyFunction(timezone.now)
    clock_started_at = factory.SelfAttribute("received_at")
    first_response_due_at = factory.LazyAttribute(lambda o: o.received_at + datetime.timedelta(minutes=15))
    pool_due_at = factory.LazyAttribute(lambda o: o.received_at + datetime.timedelta(hours=2))


class FollowUpFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowUp

    customer = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    kind = "call"
    content = "电话沟通装修需求"
    occurred_at = factory.LazyFunction(timezone.now)


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"分群{n}")
    filters = factory.LazyFunction(lambda: {"budget_tier": ["high"]})


@probe_factory(Customer)
def _customer(tenant) -> Customer:
    return CustomerFactory(tenant=tenant)


@probe_factory(Lead)
def _lead(tenant) -> Lead:
    return LeadFactory(tenant=tenant)


@probe_factory(FollowUp)
def _follow_up(tenant) -> FollowUp:
    return FollowUpFactory(tenant=tenant)


@probe_factory(Segment)
def _segment(tenant) -> Segment:
    return SegmentFactory(tenant=tenant)


@probe_factory(CustomerMerge)
def _merge(tenant) -> CustomerMerge:
    from crm.models import Role
    from customers.services.merge import customer_merge
    from tests.factories import StaffFactory

    manager = StaffFactory(tenant=tenant, roles=[Role.MANAGER])
    return customer_merge(
        tenant=tenant,
        survivor=CustomerFactory(tenant=tenant),
        duplicate=CustomerFactory(tenant=tenant),
        actor=manager,
    )
