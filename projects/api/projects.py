"""Projects API: list/detail/update and the stage, contract and handover actions."""

from __future__ import annotations

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import fields
from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer, TenantPKField, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from crm.filters import query_filters
from customers.models import Customer
from projects import selectors
from projects.api.share import ShareLinkCreatedSerializer, ShareLinkCreateSerializer, ShareLinkSerializer
from projects.filters import ProjectListFilter
from projects.models import (
    STAGE_ORDER,
    AcceptanceKind,
    Project,
    Stage,
)
from projects.services import (
    contracts,
    projects,
    stages,
)
from projects.services import share as share_services


class ProjectSerializer(ModelSerializer):
    customer = TenantPKField(model=Customer)
    designer = TenantStaffField(required=False, allow_null=True)
    project_manager = TenantStaffField(required=False, allow_null=True)
    supervisor = TenantStaffField(required=False, allow_null=True)
    service_owner = TenantStaffField(required=False, allow_null=True)
    budget_fen = serializers.SerializerMethodField(
        help_text=gettext_lazy("当前预算 = 合同金额 + 已批准变更单（单位：分）")
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "customer",
            "name",
            "address",
            "area_sqm",
            "style",
            "planned_start_on",
            "planned_end_on",
            "designer",
            "project_manager",
            "supervisor",
            "service_owner",
            "contract_number",
            "contract_amount_fen",
            "signed_on",
            "handed_over_on",
            "cancelled_at",
            "stage",
            "stage_entered_at",
            "budget_fen",
            "created_at",
        ]
        read_only_fields = [
            "contract_number",
            "contract_amount_fen",
            "signed_on",
            "handed_over_on",
            "cancelled_at",
            "stage",
            "stage_entered_at",
            "budget_fen",
            "created_at",
        ]

    def get_budget_fen(self, project) -> int:
        return (project.contract_amount_fen or 0) + (getattr(project, "approved_delta", None) or 0)


class ProjectUpdateSerializer(ProjectSerializer):
    class Meta(ProjectSerializer.Meta):
        read_only_fields = [*ProjectSerializer.Meta.read_only_fields, "customer"]


class AdvanceSerializer(serializers.Serializer):
    to_stage = serializers.ChoiceField(
        choices=Stage.choices, required=False, help_text=gettext_lazy("省略 = 前进一步")
    )
    reason = fields.CharField(required=False, allow_blank=True, max_length=300)


class SignSerializer(serializers.Serializer):
    contract_number = fields.CharField(max_length=50)
    contract_amount_fen = fields.MoneyField(
        min_value=1,
        required=False,
        help_text=gettext_lazy("合同金额（分）；省略 = 客户已接受报价的合计"),
    )
    signed_on = fields.DateField()
    override_reason = fields.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text=gettext_lazy("经理越过签约前置条件（量房、报价等）时填写理由，记入阶段记录"),
    )


class HandoverSerializer(serializers.Serializer):
    handed_over_on = fields.DateField(required=False)


class CancelSerializer(serializers.Serializer):
    reason = fields.CharField(max_length=300)


class AcceptanceSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AcceptanceKind.choices)
    passed = serializers.BooleanField()
    notes = fields.CharField(required=False, allow_blank=True)
    accepted_on = fields.DateField(required=False)


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("stage", OpenApiTypes.STR, enum=STAGE_ORDER),
            OpenApiParameter("overdue", OpenApiTypes.BOOL),
            OpenApiParameter("staff", OpenApiTypes.INT),
            OpenApiParameter("customer", OpenApiTypes.INT),
        ]
    )
)
class ProjectViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Projects. Stage, contract and handover change only through the explicit actions."""

    model = Project
    serializer_class = ProjectSerializer
    pagination_class = StandardPagination
    required_permissions = {
        "*": "projects.view",
        "write": "projects.edit",
        "advance": "projects.move_stage",
        "sign": "projects.sign",
        "handover": "projects.handover",
        "cancel": "projects.cancel",
        "acceptance": "projects.acceptance",
        "share": "projects.share",
    }

    def get_tenant_queryset(self):
        params = query_filters(ProjectListFilter, self.request)
        return selectors.projects_for_list(
            tenant=self.tenant,
            stage=params["stage"] or "",
            overdue=bool(params["overdue"]),
            staff_id=params["staff"],
            customer_id=params["customer"],
        )

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ProjectUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = projects.project_create(
            tenant=self.tenant,
            created_by=self.request_user,
            customer=data.pop("customer"),
            name=data.pop("name"),
            **data,
        )

    def perform_update(self, serializer):
        serializer.instance = projects.project_update(
            tenant=self.tenant,
            project=serializer.instance,
            updated_by=self.request_user,
            **serializer.validated_data,
        )

    def _fresh(self, project) -> dict:
        return ProjectSerializer(self.get_tenant_queryset().get(pk=project.pk)).data

    @extend_schema(request=AdvanceSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def advance(self, request, pk=None):
        project = self.get_object()
        body = AdvanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        reason = body.validated_data.get("reason", "")
        if body.validated_data.get("to_stage"):
            project = stages.project_move_stage(
                tenant=self.tenant,
                project=project,
                to_stage=body.validated_data["to_stage"],
                moved_by=request.user,
                reason=reason,
            )
        else:
            project = stages.project_advance(
                tenant=self.tenant, project=project, advanced_by=request.user, reason=reason
            )
        return Response(self._fresh(project))

    @extend_schema(request=SignSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def sign(self, request, pk=None):
        project = self.get_object()
        body = SignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = contracts.contract_sign(
            tenant=self.tenant, project=project, signed_by=request.user, **body.validated_data
        )
        return Response(self._fresh(project))

    @extend_schema(request=HandoverSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def handover(self, request, pk=None):
        project = self.get_object()
        body = HandoverSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = stages.project_handover(
            tenant=self.tenant,
            project=project,
            handed_over_by=request.user,
            handed_over_on=body.validated_data.get("handed_over_on") or timezone.localdate(),
        )
        return Response(self._fresh(project))

    @extend_schema(request=CancelSerializer, responses={200: ProjectSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        project = self.get_object()
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        project = contracts.contract_cancel(
            tenant=self.tenant,
            project=project,
            cancelled_by=request.user,
            reason=body.validated_data["reason"],
        )
        return Response(self._fresh(project))

    @extend_schema(request=AcceptanceSerializer, responses={201: AcceptanceSerializer})
    @action(detail=True, methods=["post"])
    def acceptance(self, request, pk=None):
        project = self.get_object()
        body = AcceptanceSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        row = stages.acceptance_record(
            tenant=self.tenant, project=project, recorded_by=request.user, **body.validated_data
        )
        return Response(
            {"kind": row.kind, "passed": row.passed, "notes": row.notes, "accepted_on": row.accepted_on},
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=ShareLinkCreateSerializer, responses={201: ShareLinkCreatedSerializer})
    @action(detail=True, methods=["post"])
    def share(self, request, pk=None):
        """Create a customer progress link; the token is shown only in this response."""
        project = self.get_object()
        body = ShareLinkCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        link, token = share_services.share_link_create(
            tenant=self.tenant,
            project=project,
            created_by=request.user,
            valid_days=body.validated_data["valid_days"],
        )
        data = ShareLinkSerializer(link).data
        data["token"] = token
        data["url"] = request.build_absolute_uri(reverse("projects:progress", args=[token]))
        return Response(data, status=status.HTTP_201_CREATED)
