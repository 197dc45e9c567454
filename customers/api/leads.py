"""Leads: serializers, filters, intake-key rotation and the viewset."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _
from django_filters import rest_framework as drf_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.response import Response

from crm import extensions
from crm import filters as bounded
from crm.api import fields
from crm.api.serializers import ModelSerializer, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from customers import selectors, visibility
from customers.api.customers import VisibleCustomerField
from customers.models import (
    CustomerSettings,
    Lead,
    LeadStatus,
    SourceChannel,
)
from customers.services import leads, settings

# --------------------------------------------------------------------------- leads


class LeadScoreSummarySerializer(serializers.Serializer):
    score = serializers.FloatField()
    method = fields.CharField(max_length=16)
    factors = serializers.ListField(child=serializers.DictField())


class LeadSerializer(ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    assignee = TenantStaffField(read_only=True)
    seconds_left = serializers.SerializerMethodField()
    score = serializers.SerializerMethodField()

    class Meta:
        model = Lead
        fields = [
            "id",
            "customer",
            "customer_name",
            "source_channel",
            "received_at",
            "clock_started_at",
            "first_response_due_at",
            "pool_due_at",
            "received_outside_hours",
            "seconds_left",
            "note",
            "referral_code",
            "status",
            "assignee",
            "first_responded_at",
            "response_seconds",
            "sla_breached",
            "created_at",
            "score",
        ]
        read_only_fields = fields

    def get_seconds_left(self, lead: Lead) -> int:
        return int((lead.first_response_due_at - timezone.now()).total_seconds())

    @extend_schema_field(LeadScoreSummarySerializer(allow_null=True))
    def get_score(self, lead: Lead) -> dict | None:
        """Probability of signing within 90 days and its top factors (from the engagement app)."""
        scores = self.context.get("lead_scores")
        if scores is None:
            scores = extensions.lead_scores(tenant=lead.tenant, lead_ids=[lead.pk])
        return scores.get(lead.pk)


class LeadCreateSerializer(serializers.Serializer):
    name = fields.CharField(max_length=50, required=False, allow_blank=True, default="")
    phone = fields.CharField(max_length=30, required=False, allow_blank=True, default="")
    source_channel = serializers.ChoiceField(SourceChannel.choices)
    received_at = fields.DateTimeField(required=False)
    note = fields.CharField(required=False, allow_blank=True, default="", max_length=2000)
    referral_code = fields.CharField(required=False, allow_blank=True, default="", max_length=64)
    customer = VisibleCustomerField(required=False, allow_null=True)

    def validate(self, attrs):
        if not attrs.get("customer") and not attrs.get("phone"):
            raise serializers.ValidationError({"phone": [_("请填写手机号。")]})
        return attrs


class StatsParamsSerializer(serializers.Serializer):
    since = fields.DateTimeField(required=False)
    until = fields.DateTimeField(required=False)


class LeadFilter(drf_filters.FilterSet):
    status = drf_filters.MultipleChoiceFilter(choices=LeadStatus.choices)
    source_channel = drf_filters.MultipleChoiceFilter(choices=SourceChannel.choices)
    customer = bounded.IdFilter(field_name="customer_id")
    assignee = bounded.IdFilter(field_name="assignee_id")
    sla_breached = drf_filters.BooleanFilter()
    received_after = bounded.DateTimeFilter(field_name="received_at", lookup_expr="gte")

    class Meta:
        model = Lead
        fields: list[str] = []


class IntakeKeyRotateSerializer(serializers.Serializer):
    grace_hours = fields.IntegerField(
        min_value=0,
        max_value=settings.INTAKE_KEY_MAX_GRACE_HOURS,
        default=0,
        help_text="旧密钥继续有效的小时数（0–720）；0 表示立即失效",
    )


class IntakeKeyStatusSerializer(serializers.Serializer):
    prefix = serializers.CharField(source="intake_key_prefix", read_only=True)
    previous_prefix = serializers.SerializerMethodField()
    previous_expires_at = serializers.SerializerMethodField()

    @extend_schema_field({"type": "string", "nullable": True})
    def get_previous_prefix(self, row: CustomerSettings) -> str | None:
        return row.previous_intake_key_prefix if settings.previous_intake_key_active(row) else None

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_previous_expires_at(self, row: CustomerSettings) -> str | None:
        expires = row.previous_intake_key_expires_at
        if expires is None or not settings.previous_intake_key_active(row):
            return None
        return serializers.DateTimeField().to_representation(expires)


class IntakeKeyIssuedSerializer(IntakeKeyStatusSerializer):
    intake_key = serializers.CharField(read_only=True, help_text="新密钥明文，只返回这一次")


class LeadViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Inquiries, most urgent first. Creating one attaches it to a customer by phone."""

    model = Lead
    filterset_class = LeadFilter
    filter_backends = [drf_filters.DjangoFilterBackend, OrderingFilter]
    ordering_fields = ["first_response_due_at", "received_at"]
    required_permissions = {
        "*": "customers.view",
        "write": "customers.edit",
        "stats": "customers.view_stats",
        "intake_key": "customers.settings",
        "intake_key_status": "customers.settings",
        "intake_key_end_grace": "customers.settings",
    }

    def get_serializer_class(self):
        return LeadCreateSerializer if self.action == "create" else LeadSerializer

    def get_tenant_queryset(self):
        return visibility.leads_visible_to(
            self.request.user,
            Lead.objects.select_related("customer", "assignee").order_by("first_response_due_at", "id"),
        )

    def list(self, request, *args, **kwargs):
        """One query for the page's lead scores instead of one per lead."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None  # the API always paginates (REST_FRAMEWORK settings)
        scores = extensions.lead_scores(tenant=self.tenant, lead_ids=[lead.pk for lead in page])
        context = {**self.get_serializer_context(), "lead_scores": scores}
        return self.get_paginated_response(LeadSerializer(page, many=True, context=context).data)

    @extend_schema(request=LeadCreateSerializer, responses={201: LeadSerializer})
    def create(self, request, *args, **kwargs):
        serializer = LeadCreateSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        lead = leads.lead_create(tenant=self.tenant, created_by=request.user, **serializer.validated_data)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.DATETIME),
            OpenApiParameter("until", OpenApiTypes.DATETIME),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["get"])
    def stats(self, request):
        """Response time per sales user and per channel: count, median, p90 (seconds), breach rate."""
        params = StatsParamsSerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = selectors.lead_response_stats(tenant=self.tenant, **params.validated_data)
        return Response(data)

    @extend_schema(
        request=IntakeKeyRotateSerializer,
        responses={201: IntakeKeyIssuedSerializer},
    )
    @action(detail=False, methods=["post"], url_path="intake-key")
    def intake_key(self, request):
        """Issue a new intake key for website forms / ad platforms (shown once).

        ``grace_hours`` (0–720, default 0): how long the replaced key keeps working, so live forms
        can be switched over; two keys are active meanwhile. 0 stops the old key at once.
        """
        query = IntakeKeyRotateSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        plaintext = settings.intake_key_rotate(
            tenant=self.tenant, grace_hours=query.validated_data["grace_hours"]
        )
        data = IntakeKeyStatusSerializer(settings.customer_settings_for(tenant=self.tenant)).data
        return Response({**data, "intake_key": plaintext}, status=201)

    @extend_schema(request=None, responses={200: IntakeKeyStatusSerializer})
    @action(detail=False, methods=["get"], url_path="intake-key/status")
    def intake_key_status(self, request):
        """Which intake keys work now: the current key's prefix and, during a rotation, the old one's."""
        return Response(IntakeKeyStatusSerializer(settings.customer_settings_for(tenant=self.tenant)).data)

    @extend_schema(request=None, responses={200: IntakeKeyStatusSerializer})
    @action(detail=False, methods=["post"], url_path="intake-key/end-grace")
    def intake_key_end_grace(self, request):
        """Stop the replaced key now, before its grace period ends."""
        settings.intake_key_end_grace(tenant=self.tenant)
        return Response(IntakeKeyStatusSerializer(settings.customer_settings_for(tenant=self.tenant)).data)
