"""REST API: ``/api/v1/analytics/<panel>/`` (the numbers the page shows) and ``/api/v1/targets/``."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import cache as panel_cache
from analytics import selectors, services
from analytics.models import SalesTarget
from analytics.periods import PRESETS
from analytics.scope import parse_scope
from crm.api.serializers import ModelSerializer, TenantStaffField
from crm.api.viewsets import TenantModelViewSet
from crm.permissions import HasRolePermission
from crm.tenancy import require_tenant

SCOPE_PARAMETERS = [
    OpenApiParameter("range", str, enum=list(PRESETS), description="时间范围，默认 this_month"),
    OpenApiParameter("start", OpenApiTypes.DATE, description="range=custom 时的开始日期"),
    OpenApiParameter("end", OpenApiTypes.DATE, description="range=custom 时的结束日期（含）"),
    OpenApiParameter("channel", str, description="来源渠道"),
    OpenApiParameter("sales", int, description="销售（用户 id；销售本人只能看自己的）"),
    OpenApiParameter("designer", int, description="设计师（用户 id）"),
    OpenApiParameter("pm", int, description="项目经理（用户 id）"),
]


class AnalyticsPanelView(APIView):
    """One panel's numbers for a period and filters — the same dict the dashboard renders.

    Amounts (kpis and columns of kind ``money``) are integer fen (分), like every amount of the API."""

    permission_classes = [HasRolePermission]
    required_permissions = {"*": "analytics.view"}

    @extend_schema(parameters=SCOPE_PARAMETERS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request, panel: str):
        if panel not in selectors.PANELS:
            return Response({"detail": _("未找到。"), "errors": {}}, status=status.HTTP_404_NOT_FOUND)
        scope = parse_scope(request.query_params, tenant=require_tenant(), user=request.user)
        return Response(panel_cache.panel(scope, panel))


class SalesTargetSerializer(ModelSerializer):
    user = TenantStaffField(required=False, allow_null=True, help_text=gettext_lazy("留空表示团队目标"))

    class Meta:
        model = SalesTarget
        fields = ["id", "user", "month", "contract_value_fen", "signed_count", "new_customers", "updated_at"]
        read_only_fields = ["id", "updated_at"]


class SalesTargetViewSet(TenantModelViewSet):
    """Monthly sales targets per sales user (or the team): managers write, sales read their own."""

    serializer_class = SalesTargetSerializer
    model = SalesTarget
    required_permissions = {"*": "analytics.view", "write": "analytics.manage_targets"}
    filterset_fields: list[str] = []

    def get_tenant_queryset(self):
        from crm.permissions import has_permission

        targets = SalesTarget.objects.select_related("user").order_by("-month", "user_id")
        if not has_permission(self.request.user, "analytics.view_all"):
            targets = targets.filter(user=self.request.user)
        month = self.request.query_params.get("month")
        if month:
            targets = targets.filter(month=month) if _is_date(month) else targets.none()
        return targets

    def perform_create(self, serializer):
        data = {"user": None, **serializer.validated_data}  # no user = the team's target
        serializer.instance = services.sales_target_save(tenant=self.tenant, actor=self.request_user, **data)

    def perform_update(self, serializer):
        data = {
            "user": serializer.instance.user,
            "month": serializer.instance.month,
            "contract_value_fen": serializer.instance.contract_value_fen,
            "signed_count": serializer.instance.signed_count,
            "new_customers": serializer.instance.new_customers,
            **serializer.validated_data,
        }
        serializer.instance = services.sales_target_save(
            tenant=self.tenant, actor=self.request_user, target=serializer.instance, **data
        )

    def perform_destroy(self, instance):
        services.sales_target_delete(tenant=self.tenant, actor=self.request_user, target=instance)


def _is_date(value: str) -> bool:
    import datetime

    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True
