"""Stage history API (read only)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets

from crm.api.deprecation import DeprecatedAliasMixin
from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer
from crm.api.viewsets import TenantViewSetMixin
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.models import (
    StageHistory,
)


class StageHistorySerializer(ModelSerializer):
    changed_by_name = serializers.CharField(source="changed_by.display_name", read_only=True, default="")

    class Meta:
        model = StageHistory
        fields = [
            "id",
            "project",
            "from_stage",
            "to_stage",
            "direction",
            "reason",
            "changed_by",
            "changed_by_name",
            "changed_at",
        ]
        read_only_fields = fields


class StageHistoryViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """Stage history (who, when, from, to, why). Change stages with POST /projects/{id}/advance/."""

    model = StageHistory
    serializer_class = StageHistorySerializer
    pagination_class = StandardPagination
    required_permissions = {"*": "projects.view"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(StageHistory.objects.select_related("changed_by"))


@extend_schema_view(
    list=extend_schema(deprecated=True, description="已弃用：请改用 /api/v1/project-stage-history/。"),
    retrieve=extend_schema(
        deprecated=True, description="已弃用：请改用 /api/v1/project-stage-history/{id}/。"
    ),
)
class DeprecatedStageHistoryViewSet(DeprecatedAliasMixin, StageHistoryViewSet):
    """``/project-stages/``: the old name of ``/project-stage-history/``, kept for old clients."""

    successor = "project-stage-history"
