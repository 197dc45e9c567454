"""Change orders API."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from crm.api import fields
from crm.api.pagination import StandardPagination
from crm.api.serializers import ModelSerializer, TenantPKField
from crm.api.viewsets import TenantViewSetMixin
from projects.api._common import PROJECT_PARAM, ProjectFilterMixin
from projects.models import (
    ChangeOrder,
    ChangeOrderLine,
    DecisionChannel,
    Project,
)
from projects.services import (
    change_orders,
)


class ChangeOrderLineSerializer(ModelSerializer):
    class Meta:
        model = ChangeOrderLine
        fields = ["description", "quantity", "unit", "unit_price_fen", "amount_fen"]
        read_only_fields = ["amount_fen"]


class ChangeOrderSerializer(ModelSerializer):
    project = TenantPKField(model=Project)
    lines = ChangeOrderLineSerializer(many=True)

    class Meta:
        model = ChangeOrder
        fields = [
            "id",
            "project",
            "number",
            "title",
            "reason",
            "status",
            "amount_delta_fen",
            "lines",
            "created_by",
            "created_at",
            "sent_at",
            "decided_at",
            "decided_by",
            "decision_channel",
            "decision_note",
        ]
        read_only_fields = [
            "number",
            "status",
            "amount_delta_fen",
            "created_by",
            "created_at",
            "sent_at",
            "decided_at",
            "decided_by",
            "decision_channel",
            "decision_note",
        ]


class ChangeOrderUpdateSerializer(ChangeOrderSerializer):
    lines = ChangeOrderLineSerializer(many=True, required=False)

    class Meta(ChangeOrderSerializer.Meta):
        read_only_fields = [*ChangeOrderSerializer.Meta.read_only_fields, "project"]


class DecideSerializer(serializers.Serializer):
    approve = serializers.BooleanField()
    channel = serializers.ChoiceField(choices=[c for c in DecisionChannel.choices if c[0] != "customer_link"])
    note = fields.CharField(required=False, allow_blank=True, max_length=300)


class ChangeOrderViewSet(
    ProjectFilterMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Change orders: draft (editable) → sent → approved/rejected (immutable)."""

    model = ChangeOrder
    serializer_class = ChangeOrderSerializer
    pagination_class = StandardPagination
    required_permissions = {
        "*": "projects.view",
        "write": "projects.change_order",
        "decide": "projects.change_order_decide",
    }

    @extend_schema(parameters=[PROJECT_PARAM])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def get_tenant_queryset(self):
        return self.filter_by_project(ChangeOrder.objects.prefetch_related("lines"))

    def get_serializer_class(self):
        if self.action in ("update", "partial_update"):
            return ChangeOrderUpdateSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer):
        data = serializer.validated_data
        serializer.instance = change_orders.change_order_create(
            tenant=self.tenant,
            project=data["project"],
            created_by=self.request_user,
            title=data["title"],
            reason=data["reason"],
            lines=data["lines"],
        )

    def perform_update(self, serializer):
        data = serializer.validated_data
        serializer.instance = change_orders.change_order_update(
            tenant=self.tenant,
            change_order=serializer.instance,
            updated_by=self.request_user,
            title=data.get("title"),
            reason=data.get("reason"),
            lines=data.get("lines"),
        )

    def _fresh(self, change_order):
        return ChangeOrderSerializer(self.get_tenant_queryset().get(pk=change_order.pk)).data

    @extend_schema(request=None, responses={200: ChangeOrderSerializer})
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        change_order = change_orders.change_order_send(
            tenant=self.tenant, change_order=self.get_object(), sent_by=request.user
        )
        return Response(self._fresh(change_order))

    @extend_schema(request=DecideSerializer, responses={200: ChangeOrderSerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        """Staff record the customer's decision (with the channel) on the customer's behalf."""
        change_order = self.get_object()
        body = DecideSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        change_order = change_orders.change_order_decide(
            tenant=self.tenant, change_order=change_order, decided_by=request.user, **body.validated_data
        )
        return Response(self._fresh(change_order))
