"""Query parameters of the project lists (one rule for bad values: see ``crm.filters``)."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from crm.filters import FilterSet, FlagFilter, IdFilter
from projects.models import Project, Stage


class ProjectListFilter(FilterSet):
    """Parsed here, applied by ``projects.selectors.projects_for_list`` (staff = any role on it)."""

    stage = django_filters.ChoiceFilter(choices=Stage.choices, label=_("阶段"))
    overdue = FlagFilter(label=_("已超期"))
    staff = IdFilter(label=_("员工"))
    customer = IdFilter(label=_("客户"))

    class Meta:
        model = Project
        fields: list[str] = []


class ProjectChildFilter(FilterSet):
    """Flat child routes (logs, plans, materials, …): ``?project=ID`` narrows the list."""

    project = IdFilter(field_name="project_id", label=_("项目"))
