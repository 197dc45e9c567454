"""Follow-ups and saved segments."""

from __future__ import annotations

from django_filters import rest_framework as drf_filters
from rest_framework import mixins, viewsets
from rest_framework.filters import OrderingFilter, SearchFilter

from crm import filters as bounded
from crm.api.serializers import ModelSerializer, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from customers import selectors, visibility
from customers.api.customers import VisibleCustomerField
from customers.models import (
    FollowUp,
    Segment,
)
from customers.services import follow_ups, segments

# --------------------------------------------------------------------------- follow-ups


class FollowUpSerializer(ModelSerializer):
    customer = VisibleCustomerField()
    author = TenantStaffField(read_only=True)

    class Meta:
        model = FollowUp
        fields = [
            "id",
            "customer",
            "author",
            "kind",
            "content",
            "outcome",
            "occurred_at",
            "next_follow_up_at",
        ]
        read_only_fields = ["id", "author"]
        extra_kwargs = {"occurred_at": {"required": False}}


class FollowUpFilter(drf_filters.FilterSet):
    customer = bounded.IdFilter(field_name="customer_id")
    kind = bounded.CharFilter()
    due_before = bounded.DateTimeFilter(field_name="next_follow_up_at", lookup_expr="lte")

    class Meta:
        model = FollowUp
        fields: list[str] = []


class FollowUpViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Touches on a customer's timeline (``?customer=ID``). Append-only."""

    model = FollowUp
    serializer_class = FollowUpSerializer
    filterset_class = FollowUpFilter
    filter_backends = [drf_filters.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["occurred_at", "next_follow_up_at"]
    required_permissions = {"*": "customers.view", "write": "customers.follow_up"}

    def get_tenant_queryset(self):
        return visibility.follow_ups_visible_to(
            self.request.user, FollowUp.objects.select_related("author").order_by("-occurred_at", "-id")
        )

    def perform_create(self, serializer):
        serializer.instance = follow_ups.follow_up_create(
            tenant=self.tenant, author=self.request_user, **serializer.validated_data
        )


# --------------------------------------------------------------------------- segments


class SegmentSerializer(ModelSerializer):
    created_by = TenantStaffField(read_only=True)

    class Meta:
        model = Segment
        fields = ["id", "name", "filters", "created_by", "created_at"]
        read_only_fields = ["id", "created_by", "created_at"]


class SegmentViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    """Saved filter sets of the customer list; use one with ``/customers/?segment=ID``."""

    model = Segment
    serializer_class = SegmentSerializer
    filter_backends = [SearchFilter]
    search_fields = ["name"]
    required_permissions = {"*": "customers.view", "write": "customers.manage_segments"}

    def get_tenant_queryset(self):
        return selectors.segments_for_list(tenant=self.tenant)

    def perform_create(self, serializer):
        data = {"filters": {}, **serializer.validated_data}  # no filters = every customer
        serializer.instance = segments.segment_save(tenant=self.tenant, created_by=self.request_user, **data)

    def perform_update(self, serializer):
        data = {
            "name": serializer.instance.name,
            "filters": serializer.instance.filters,
            **serializer.validated_data,
        }
        serializer.instance = segments.segment_save(
            tenant=self.tenant, created_by=self.request_user, segment=serializer.instance, **data
        )
