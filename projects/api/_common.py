"""Filters and schema parameters shared by the project API modules."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from crm.filters import filter_or_400
from projects.filters import ProjectChildFilter


class ProjectFilterMixin:
    """Flat child routes: ``?project=ID`` narrows the list."""

    def filter_by_project(self, queryset):
        return filter_or_400(ProjectChildFilter, self.request, queryset)  # type: ignore[attr-defined]  # mixed into an APIView


PROJECT_PARAM = OpenApiParameter("project", OpenApiTypes.INT, description="只看该项目")
