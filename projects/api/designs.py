"""Design plans API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import fields
from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import TenantViewSetMixin
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.models import (
    DesignPlan,
    DesignPlanRevision,
    Project,
)
from projects.services import (
    designs,
)


class DesignPlanRevisionSerializer(ModelSerializer):
    class Meta:
        model = DesignPlanRevision
        fields = [
            "version",
            "title",
            "style",
            "cost_min_fen",
            "cost_max_fen",
            "notes",
            "change_note",
            "changed_by",
            "changed_at",
        ]
        read_only_fields = fields


class DesignPlanSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    revisions = DesignPlanRevisionSerializer(many=True, read_only=True)
    change_note = fields.CharField(write_only=True, required=False, allow_blank=True)

    class Meta:
        model = DesignPlan
        fields = [
            "id",
            "project",
            "label",
            "title",
            "style",
            "cost_min_fen",
            "cost_max_fen",
            "notes",
            "version",
            "is_chosen",
            "chosen_at",
            "updated_at",
            "revisions",
            "change_note",
        ]
        read_only_fields = ["version", "is_chosen", "chosen_at", "updated_at"]


class DesignPlanUpdateSerializer(DesignPlanSerializer):
    class Meta(DesignPlanSerializer.Meta):
        read_only_fields = [*DesignPlanSerializer.Meta.read_only_fields, "project", "label"]


class DesignPlanViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Design options; an update is a new version (every revision kept)."""

    model = DesignPlan
    serializer_class = DesignPlanSerializer
    required_permissions = {"*": "projects.view", "write": "projects.design"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(DesignPlan.objects.prefetch_related("revisions"))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return DesignPlanUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("change_note", None)
        serializer.instance = designs.design_plan_create(
            tenant=self.tenant, created_by=self.request_user, **data
        )

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        note = data.pop("change_note", "")
        serializer.instance = designs.design_plan_revise(
            tenant=self.tenant,
            plan=serializer.instance,
            revised_by=self.request_user,
            change_note=note,
            **data,
        )

    @extend_schema(request=None, responses={200: DesignPlanSerializer})
    @action(detail=True, methods=["post"])
    def choose(self, request, pk=None):
        plan = designs.design_plan_choose(tenant=self.tenant, plan=self.get_object(), chosen_by=request.user)
        return Response(DesignPlanSerializer(self.get_tenant_queryset().get(pk=plan.pk)).data)
