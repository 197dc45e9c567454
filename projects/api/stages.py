"""Stage history API (read only) and the signing requirements setting."""

from __future__ import annotations

from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import fields
from crm.api.deprecation import DeprecatedAliasMixin
from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer
from crm.api.viewsets import SingletonViewMixin, TenantViewSetMixin
from projects import extensions
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.models import (
    DEFAULT_SIGNING_STEPS,
    SigningPolicy,
    StageHistory,
)
from projects.services import signing


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


class SigningStepSerializer(serializers.Serializer):
    key = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class SigningPolicySerializer(serializers.Serializer):
    required_steps = serializers.ListField(
        child=fields.CharField(max_length=40),
        max_length=20,
        help_text=gettext_lazy("签约前必须完成的步骤（available_steps 中的 key）；空列表 = 不要求"),
    )
    available_steps = SigningStepSerializer(many=True, read_only=True)


class SigningPolicyViewSet(SingletonViewMixin, TenantViewSetMixin, viewsets.GenericViewSet):
    """The steps this tenant requires before a contract is signed (``POST /projects/{id}/sign/``
    answers 400 with ``missing_<step>`` codes otherwise, unless a manager gives ``override_reason``)."""

    model = SigningPolicy
    serializer_class = SigningPolicySerializer
    filter_backends: list = []
    required_permissions = {"*": "projects.view", "write": "projects.settings"}

    def get_singleton(self) -> SigningPolicy:
        policy = SigningPolicy.objects.filter(tenant=self.tenant).first()
        return policy or SigningPolicy(tenant=self.tenant, required_steps=list(DEFAULT_SIGNING_STEPS))

    def _body(self) -> dict:
        return {
            "required_steps": signing.required_signing_steps(tenant=self.tenant),
            "available_steps": [
                {"key": key, "name": str(step.label)}
                for key, step in extensions.signing_requirements().items()
            ],
        }

    @extend_schema(methods=["get"], responses={200: SigningPolicySerializer})
    @extend_schema(methods=["put"], request=SigningPolicySerializer, responses={200: SigningPolicySerializer})
    @action(detail=False, methods=["get", "put"])
    def current(self, request):
        self.get_object()
        if request.method == "PUT":
            body = SigningPolicySerializer(data=request.data)
            body.is_valid(raise_exception=True)
            signing.signing_policy_update(
                tenant=self.tenant, actor=request.user, required_steps=body.validated_data["required_steps"]
            )
        return Response(self._body())
