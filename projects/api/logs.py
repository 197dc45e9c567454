"""Daily logs API, with their site photos."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import TenantViewSetMixin
from crm.uploads import validate_image_file
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.models import (
    DailyLog,
    Project,
    SitePhoto,
)
from projects.services import (
    logs,
)


class SitePhotoSerializer(ModelSerializer):
    url = serializers.FileField(source="image", read_only=True)
    thumbnail_url = serializers.FileField(source="thumbnail", read_only=True)

    class Meta:
        model = SitePhoto
        fields = ["id", "url", "thumbnail_url", "width", "height", "size_bytes", "uploaded_at"]
        read_only_fields = fields


class DailyLogSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    photos = SitePhotoSerializer(many=True, read_only=True)
    upload = serializers.ListField(
        child=serializers.FileField(validators=[validate_image_file]),
        write_only=True,
        required=False,
        help_text=gettext_lazy("照片（可多张，JPG/PNG/WebP）"),
    )
    author_name = serializers.CharField(source="author.display_name", read_only=True, default="")

    class Meta:
        model = DailyLog
        fields = [
            "id",
            "project",
            "log_date",
            "work_done",
            "plan_tomorrow",
            "workers_on_site",
            "stage",
            "author",
            "author_name",
            "photos",
            "upload",
            "created_at",
        ]
        read_only_fields = ["stage", "author", "created_at"]


class PhotoUploadSerializer(serializers.Serializer):
    upload = serializers.ListField(child=serializers.FileField(validators=[validate_image_file]))


class DailyLogViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Daily site logs with photos (multipart ``upload`` fields; validated by content)."""

    model = DailyLog
    serializer_class = DailyLogSerializer
    pagination_class = StandardPagination
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    required_permissions = {"*": "projects.view", "write": "projects.daily_log"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(DailyLog.objects.select_related("author").prefetch_related("photos"))

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        serializer.instance = logs.daily_log_create(
            tenant=self.tenant, author=self.request_user, photos=data.pop("upload", []), **data
        )

    @extend_schema(
        request={"multipart/form-data": PhotoUploadSerializer},
        responses={201: SitePhotoSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def photos(self, request, pk=None):
        log = self.get_object()
        body = PhotoUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        photos = logs.daily_log_add_photos(tenant=self.tenant, log=log, photos=body.validated_data["upload"])
        return Response(SitePhotoSerializer(photos, many=True, context={"request": request}).data, status=201)
