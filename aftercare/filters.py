"""Query parameters of the aftercare lists (one rule for bad values: see ``crm.filters``)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from aftercare.models import (
    MaintenancePlan,
    PlanStatus,
    ServiceTicket,
    Survey,
    SurveyKind,
    TicketStatus,
    Visit,
)
from crm.filters import FilterSet, FlagFilter, IdFilter


class PlanFilter(FilterSet):
    project = IdFilter(field_name="project_id", label=_("项目"))
    assigned_to = IdFilter(field_name="assigned_to_id", label=_("负责人"))
    status = django_filters.ChoiceFilter(choices=PlanStatus.choices, label=_("状态"))

    class Meta:
        model = MaintenancePlan
        fields: list[str] = []


class VisitFilter(FilterSet):
    plan = IdFilter(field_name="plan_id", label=_("保养计划"))
    technician = IdFilter(field_name="technician_id", label=_("上门人员"))

    class Meta:
        model = Visit
        fields: list[str] = []


class TicketFilter(FilterSet):
    project = IdFilter(field_name="project_id", label=_("项目"))
    status = django_filters.ChoiceFilter(choices=TicketStatus.choices, label=_("状态"))
    active = FlagFilter(method="filter_active", label=_("仅未解决"))

    class Meta:
        model = ServiceTicket
        fields: list[str] = []

    def filter_active(self, queryset: QuerySet, name: str, value: bool | None) -> QuerySet:
        if value:
            return queryset.exclude(status__in=[TicketStatus.RESOLVED, TicketStatus.CLOSED])
        return queryset


class SurveyFilter(FilterSet):
    customer = IdFilter(field_name="customer_id", label=_("客户"))
    kind = django_filters.ChoiceFilter(choices=SurveyKind.choices, label=_("类型"))

    class Meta:
        model = Survey
        fields: list[str] = []
