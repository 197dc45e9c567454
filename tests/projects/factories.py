"""Project factories (also registered for the cross-tenant probe)."""

from __future__ import annotations

import factory

from projects.models import Project
from tests.customers.factories import CustomerFactory
from tests.factories import probe_factory


class ProjectFactory(factory.django.DjangoModelFactory):
    """Create inside ``tenant_context(tenant)``; pass ``tenant=``."""

    class Meta:
        model = Project

    customer = factory.SubFactory(CustomerFactory, tenant=factory.SelfAttribute("..tenant"))
    name = factory.Sequence(lambda n: f"阳光花园 {n} 栋")
    address = "上海市浦东新区阳光花园"


@probe_factory(Project)
def _project(tenant) -> Project:
    return ProjectFactory(tenant=tenant)
