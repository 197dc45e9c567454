"""After-handover callbacks API."""

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
    ConstructionCallback,
)
from projects.services import (
    callbacks,
)


class CallbackSerializer(ModelSerializer):
    class Meta:
        model = ConstructionCallback
        fields = [
            "id",
            "project",
            "period",
            "due_on",
            "assigned_to",
            "satisfaction",
            "comments",
            "completed_at",
            "completed_by",
        ]
        read_only_fields = fields


class CallbackCompleteSerializer(serializers.Serializer):
    satisfaction = fields.IntegerField(min_value=1, max_value=5)
    comments = fields.CharField(required=False, allow_blank=True)


class CallbackViewSet(ProjectFilterMixin, TenantViewSetMixin, viewsets.ReadOnlyModelViewSet):
    model = ConstructionCallback
    serializer_class = CallbackSerializer
    required_permissions = {"*": "projects.view", "complete": "projects.callback"}

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(ConstructionCallback.objects.all())

    @extend_schema(request=CallbackCompleteSerializer, responses={200: CallbackSerializer})
    @action(detail=True, methods=["post"])
    def complete(self, request, pk=None):
        callback = self.get_object()
        body = CallbackCompleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        callback = callbacks.callback_complete(
            tenant=self.tenant, callback=callback, completed_by=request.user, **body.validated_data
        )
        return Response(CallbackSerializer(callback).data)
