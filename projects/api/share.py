"""Share links API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import fields
from crm.api.serializers import ModelSerializer
from crm.api.viewsets import TenantViewSetMixin
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.models import (
    ShareLink,
)
from projects.services import share as share_services


class ShareLinkCreateSerializer(serializers.Serializer):
    valid_days = fields.IntegerField(min_value=1, max_value=365, default=90)


class ShareLinkSerializer(ModelSerializer):
    class Meta:
        model = ShareLink
        fields = ["id", "project", "prefix", "expires_at", "revoked_at", "created_at", "last_viewed_at"]
        read_only_fields = fields


class ShareLinkCreatedSerializer(ShareLinkSerializer):
    token = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True)

    class Meta(ShareLinkSerializer.Meta):
        fields = [*ShareLinkSerializer.Meta.fields, "token", "url"]
        read_only_fields = fields


class ShareLinkViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = ShareLink
    serializer_class = ShareLinkSerializer
    required_permissions = {"*": "projects.share"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(ShareLink.objects.all())

    @extend_schema(request=None, responses={200: ShareLinkSerializer})
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        link = share_services.share_link_revoke(
            tenant=self.tenant, link=self.get_object(), revoked_by=request.user
        )
        return Response(ShareLinkSerializer(link).data)
