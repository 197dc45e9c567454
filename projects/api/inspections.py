"""Inspections and rectifications API."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from crm.api import fields
from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer, TenantPKField, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from crm.uploads import validate_image_file
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.api.logs import SitePhotoSerializer
from projects.models import (
    Inspection,
    InspectionItem,
    Project,
    Rectification,
)
from projects.services import (
    inspections,
)


@extend_schema_field(OpenApiTypes.INT)
class StaffIdField(TenantStaffField):
    """A staff user id on a non-model field (rectification owner)."""


class InspectionItemSerializer(ModelSerializer):
    owner = StaffIdField(required=False, allow_null=True, write_only=True)
    due_on = fields.DateField(required=False, write_only=True)
    rectification: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    photos = SitePhotoSerializer(many=True, read_only=True)

    class Meta:
        model = InspectionItem
        fields = [
            "id",
            "category",
            "title",
            "passed",
            "note",
            "hazard",
            "owner",
            "due_on",
            "rectification",
            "photos",
        ]


class InspectionSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    items = InspectionItemSerializer(many=True)

    class Meta:
        model = Inspection
        fields = [
            "id",
            "project",
            "kind",
            "inspected_on",
            "inspector",
            "stage",
            "score",
            "notes",
            "rectification",
            "items",
        ]
        read_only_fields = ["kind", "inspector", "stage", "score", "rectification"]
        extra_kwargs = {"inspected_on": {"required": False}}


class InspectionPhotoSerializer(serializers.Serializer):
    item = fields.IntegerField(help_text=gettext_lazy("检查项 id（属于该质检）"))
    upload = serializers.FileField(validators=[validate_image_file])


class InspectionViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """QC inspections; failed items open rectifications (see /rectifications/)."""

    model = Inspection
    serializer_class = InspectionSerializer
    pagination_class = StandardPagination
    required_permissions = {"*": "projects.view", "write": "projects.inspect"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(
            Inspection.objects.prefetch_related("items__photos", "items__rectification")
        )

    @extend_schema(
        request={"multipart/form-data": InspectionPhotoSerializer}, responses={201: SitePhotoSerializer}
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser])
    def photos(self, request, pk=None):
        """Attach a photo to one item of this inspection (validated like daily-log photos)."""
        inspection = self.get_object()
        body = InspectionPhotoSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = inspection.items.filter(pk=body.validated_data["item"]).first()
        if item is None:
            raise DRFValidationError({"item": [_("该检查项不属于此质检。")]})
        photo = inspections.inspection_item_add_photo(
            tenant=self.tenant, item=item, photo=body.validated_data["upload"]
        )
        return Response(SitePhotoSerializer(photo, context={"request": request}).data, status=201)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = inspections.inspection_record(
            tenant=self.tenant,
            project=data["project"],
            inspector=self.request_user,
            items=data["items"],
            inspected_on=data.get("inspected_on"),
            notes=data.get("notes", ""),
        )


class RectificationSerializer(ModelSerializer):
    item_title = serializers.CharField(source="item.title", read_only=True)

    class Meta:
        model = Rectification
        fields = [
            "id",
            "project",
            "item",
            "item_title",
            "description",
            "owner",
            "due_on",
            "status",
            "closed_at",
            "created_at",
        ]
        read_only_fields = fields


class ReinspectSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    note = fields.CharField(required=False, allow_blank=True)


class RectificationViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = Rectification
    serializer_class = RectificationSerializer
    required_permissions = {"*": "projects.view", "reinspect": "projects.inspect"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(Rectification.objects.select_related("item"))

    @extend_schema(request=ReinspectSerializer, responses={200: RectificationSerializer})
    @action(detail=True, methods=["post"])
    def reinspect(self, request, pk=None):
        rectification = self.get_object()
        body = ReinspectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        inspections.rectification_reinspect(
            tenant=self.tenant, rectification=rectification, inspector=request.user, **body.validated_data
        )
        return Response(RectificationSerializer(self.get_tenant_queryset().get(pk=rectification.pk)).data)
