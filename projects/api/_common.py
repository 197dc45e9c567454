"""Serializer fields, filters and schema parameters shared by the project API modules."""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as DRFValidationError


class TenantPKField(serializers.PrimaryKeyRelatedField):
    """FK to a tenant-owned model; the queryset is built per request from the scoped manager."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        from crm.tenancy import current_tenant

        if current_tenant() is None:
            return self.model._default_manager.none()
        return self.model.objects.all()


class ProjectFilterMixin:
    """Flat child routes: ``?project=ID`` narrows the list."""

    project_lookup = "project_id"

    def filter_by_project(self, queryset):
        value = self.request.query_params.get("project")
        if value in (None, ""):
            return queryset
        if not value.isdigit():
            raise DRFValidationError({"project": [_("项目编号必须是数字。")]})
        return queryset.filter(**{self.project_lookup: int(value)})


PROJECT_PARAM = OpenApiParameter("project", OpenApiTypes.INT, description="只看该项目")
