"""Aftercare factories (also registered for the cross-tenant probe). Create inside tenant_context."""

from __future__ import annotations

import datetime

import factory
from django.utils import timezone

from aftercare.models import MaintenancePlan, PlanKind, ServiceTicket, Survey, Visit
from aftercare.services import dates, surveys
from crm.models import Role
from tests.factories import StaffFactory, probe_factory
from tests.projects.factories import ProjectFactory


class HandedOverProjectFactory(ProjectFactory):
    """A project already handed over (set directly: the projects app gates the real handover)."""

    class Meta:
        skip_postgeneration_save = True

    handed_over_on = datetime.date(2025, 3, 15)
    service_owner = factory.SubFactory(
        StaffFactory, tenant=factory.SelfAttribute("..tenant"), roles=[Role.SERVICE]
    )


class PlanKindFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PlanKind
        django_get_or_create = ("tenant", "code")

    code = "year_1"
    name = "一年回访"
    months_after_handover = 12
    checklist = factory.LazyFunction(lambda: ["检查电路", "检查水路", "检查墙面裂缝"])


class MaintenancePlanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MaintenancePlan

    project = factory.SubFactory(HandedOverProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    customer = factory.SelfAttribute("project.customer")
    kind = factory.SubFactory(PlanKindFactory, tenant=factory.SelfAttribute("..tenant"))
    due_on = factory.LazyAttribute(
        lambda o: dates.add_months(o.project.handed_over_on, o.kind.months_after_handover)
    )
    assigned_to = factory.SelfAttribute("project.service_owner")
    checklist = factory.LazyFunction(lambda: [{"item": "检查电路"}, {"item": "检查水路"}])


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    plan = factory.SubFactory(MaintenancePlanFactory, tenant=factory.SelfAttribute("..tenant"))
    project = factory.SelfAttribute("plan.project")
    customer = factory.SelfAttribute("plan.customer")
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=3))
    technician = factory.SelfAttribute("plan.assigned_to")


class ServiceTicketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceTicket

    project = factory.SubFactory(HandedOverProjectFactory, tenant=factory.SelfAttribute("..tenant"))
    customer = factory.SelfAttribute("project.customer")
    category = "plumbing"
    description = "厨房水槽下方渗水"
    first_response_due_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=4))
    resolution_due_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=3))


class SurveyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Survey

    customer = factory.SubFactory(
        "tests.customers.factories.CustomerFactory", tenant=factory.SelfAttribute("..tenant")
    )
    kind = "nps"
    trigger = "handover"
    token = factory.LazyAttribute(lambda o: surveys._new_token(o.tenant))
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(days=14))
    dedupe_key = factory.Sequence(lambda n: f"factory-{n}")


@probe_factory(MaintenancePlan)
def _plan(tenant) -> MaintenancePlan:
    return MaintenancePlanFactory(tenant=tenant)


@probe_factory(Visit)
def _visit(tenant) -> Visit:
    return VisitFactory(tenant=tenant)


@probe_factory(ServiceTicket)
def _ticket(tenant) -> ServiceTicket:
    return ServiceTicketFactory(tenant=tenant)


@probe_factory(Survey)
def _survey(tenant) -> Survey:
    return SurveyFactory(tenant=tenant)
