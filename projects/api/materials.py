"""Materials API, with their inspection reports."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import TenantViewSetMixin
from crm.uploads import validate_document_file
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.models import (
    Material,
    MaterialReport,
    Project,
)
from projects.services import (
    materials,
)


class MaterialReportSerializer(ModelSerializer):
    class Meta:
        model = MaterialReport
        fields = ["id", "title", "file", "uploaded_at"]
        read_only_fields = ["id", "uploaded_at"]
        extra_kwargs = {"file": {"validators": [validate_document_file]}}


class MaterialSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    reports = MaterialReportSerializer(many=True, read_only=True)

    class Meta:
        model = Material
        fields = [
            "id",
            "project",
            "category",
            "name",
            "brand",
            "model_number",
            "batch_number",
            "supplier",
            "room",
            "quantity",
            "unit",
            "reports",
            "created_at",
        ]
        read_only_fields = ["created_at"]


class MaterialUpdateSerializer(MaterialSerializer):
    class Meta(MaterialSerializer.Meta):
        read_only_fields = [*MaterialSerializer.Meta.read_only_fields, "project"]


class MaterialViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Material traceability (brand, batch, supplier, room) with QC/test report files."""

    model = Material
    serializer_class = MaterialSerializer
    pagination_class = StandardPagination
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    required_permissions = {"*": "projects.view", "write": "projects.material"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(Material.objects.prefetch_related("reports"))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return MaterialUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = materials.material_create(
            tenant=self.tenant, project=data.pop("project"), created_by=self.request_user, **data
        )

    @extend_schema(
        request={"multipart/form-data": MaterialReportSerializer}, responses={201: MaterialReportSerializer}
    )
    @action(detail=True, methods=["post"])
    def reports(self, request, pk=None):
        material = self.get_object()
        body = MaterialReportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = materials.material_report_add(
            tenant=self.tenant,
            material=material,
            title=body.validated_data["title"],
            file=body.validated_data["file"],
        )
        return Response(MaterialReportSerializer(report, context={"request": request}).data, status=201)
