"""Customer factories (also registered for the cross-tenant probe)."""

from __future__ import annotations

import factory

from customers.models import Customer
from tests.factories import probe_factory


class CustomerFactory(factory.django.DjangoModelFactory):
    """Create inside ``tenant_context(tenant)``; pass ``tenant=``."""

    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"客户{n}")
    phone = factory.Sequence(lambda n: f"+86138{n:08d}")


@probe_factory(Customer)
def _customer(tenant) -> Customer:
    return CustomerFactory(tenant=tenant)
