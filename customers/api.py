"""REST API of customers, leads, follow-ups, segments and the public intake endpoint. Thin."""

from __future__ import annotations

from types import SimpleNamespace

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_filters import rest_framework as drf_filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter, SearchFilter
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import extensions
from crm import filters as bounded
from crm.api import fields
from crm.api.filters import LazyFilterBackend
from crm.api.lean import LeanRows
from crm.api.serializers import ModelSerializer, TenantPKField, TenantStaffField
from crm.api.viewsets import TenantViewSetMixin
from crm.hashed_secrets import hash_secret, secret_matches
from crm.idempotency.services import idempotent_response
from crm.ratelimit import ClientRateThrottle, client_ident
from crm.tenancy import current_tenant, platform_scope, tenant_context
from customers import io as customer_io
from customers import selectors, visibility
from customers.api_merge import CustomerMergeActionsMixin
from customers.filters import CustomerFilter
from customers.models import (
    Customer,
    CustomerSettings,
    FollowUp,
    FunctionalNeed,
    Lead,
    LeadStatus,
    Segment,
    SourceChannel,
    Style,
    mask_phone,
)
from customers.services import customers, follow_ups, leads, pool, privacy, segments, settings


@extend_schema_field(OpenApiTypes.INT)
class VisibleCustomerField(TenantPKField):
    """A customer the requesting user may see (``customers.visibility``); others are "not found"."""

    def __init__(self, **kwargs):
        super().__init__(model=Customer, **kwargs)

    def get_queryset(self):
        request = self.context.get("request")
        if current_tenant() is None or request is None:
            return Customer._default_manager.none()
        return visibility.customers_visible_to(request.user)


# --------------------------------------------------------------------------- customers

READ_ONLY_CUSTOMER_FIELDS = [
    "id",
    "phone_display",
    "budget_tier",
    "lifecycle",
    "loyalty",
    "activity",
    "value_fen",
    "value_tier",
    "follow_up_status",
    "system_tags",
    "signed_projects",
    "contract_total_fen",
    "credited_referrals",
    "is_vip",
    "last_touch_at",
    "next_follow_up_at",
    "in_pool",
    "pooled_at",
    "anonymised_at",
    "created_at",
    "updated_at",
]


class CustomerSerializer(ModelSerializer):
    phone = fields.CharField(write_only=True, max_length=30, help_text=gettext_lazy("中国大陆手机号"))
    phone_display = serializers.SerializerMethodField(
        help_text=gettext_lazy("按角色脱敏的手机号，如 138****1234")
    )
    owner = TenantStaffField(required=False, allow_null=True)
    designer = TenantStaffField(required=False, allow_null=True)
    style_preferences = serializers.ListField(child=serializers.ChoiceField(Style.choices), required=False)
    functional_needs = serializers.ListField(
        child=serializers.ChoiceField(FunctionalNeed.choices), required=False
    )
    tags = serializers.ListField(child=fields.CharField(max_length=20), required=False)
    budget_fen = fields.MoneyField(required=False, allow_null=True, help_text=gettext_lazy("预算（分）"))

    class Meta:
        model = Customer
        fields = [
            "id",
            "name",
            "phone",
            "phone_display",
            *[f for f in customers.CUSTOMER_EDITABLE_FIELDS if f not in ("name", "phone")],
            *READ_ONLY_CUSTOMER_FIELDS[2:],
        ]
        read_only_fields = READ_ONLY_CUSTOMER_FIELDS

    def get_phone_display(self, customer: Customer) -> str:
        return selectors.display_phone(self.context["request"].user, customer)


def _phone_display(record: dict, context: dict) -> str:
    """``CustomerSerializer.phone_display`` for a ``.values()`` row (same rule as ``display_phone``)."""
    if record["anonymised_at"] is not None:
        return "—"
    if record["id"] in context["full_phone"]:
        return record["phone"].removeprefix("+86")
    return mask_phone(record["phone"])


CUSTOMER_ROWS = LeanRows(
    CustomerSerializer,
    computed={"phone_display": (("id", "owner", "phone", "anonymised_at"), _phone_display)},
)


@extend_schema(
    parameters=[OpenApiParameter("segment", OpenApiTypes.INT, description="应用已保存分群的筛选条件")]
)
class CustomerViewSet(
    CustomerMergeActionsMixin,
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Customers with every classification axis; filter on any axis, or by ``?segment=ID``."""

    model = Customer
    serializer_class = CustomerSerializer
    filterset_class = CustomerFilter
    filter_backends = [LazyFilterBackend, OrderingFilter]
    ordering_fields = ["created_at", "budget_fen", "last_touch_at", "name", "value_fen"]
    required_permissions = {
        "*": "customers.view",
        "write": "customers.edit",
        "reveal_phone": "customers.reveal_phone",
        "claim": "customers.claim",
        "anonymise": "customers.privacy",
        "personal_data": "customers.privacy",
        "export": "customers.export",
        "merge": "customers.merge",
        "reassign": "customers.reassign",
        "ownership": "customers.view",
    }

    def get_tenant_queryset(self):
        if self.action == "list":
            return selectors.customers_for_api_list(tenant=self.tenant, user=self.request_user)
        return selectors.customers_for_list(tenant=self.tenant, user=self.request_user)

    def list(self, request, *args, **kwargs):
        """Lean read path: the serializer's JSON from ``.values()`` rows (crm/api/lean.py)."""
        queryset = CUSTOMER_ROWS.values(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(queryset)
        assert page is not None  # the API always paginates (REST_FRAMEWORK settings)
        # Whose full number this user may see, for the whole page at once (no query for managers).
        shown = [SimpleNamespace(pk=record["id"], owner_id=record["owner"]) for record in page]
        context = {"full_phone": visibility.customer_ids_with_full_phone(request.user, shown)}  # type: ignore[arg-type]  # reads pk and owner_id only
        return self.get_paginated_response(CUSTOMER_ROWS.rows(page, context))

    def filter_queryset(self, queryset):
        segment_id = self.request.query_params.get("segment")
        if segment_id:
            if not segment_id.isdigit():
                raise exceptions.ValidationError({"segment": [_("分群编号必须是数字。")]})
            segment = Segment.objects.filter(pk=int(segment_id)).first()
            if segment is None:
                raise exceptions.ValidationError({"segment": [_("分群不存在。")]})
            segment_filter = CustomerFilter(data=segment.filters, queryset=queryset, request=self.request)
            if not segment_filter.is_valid():
                raise exceptions.ValidationError({"segment": [_("分群的筛选条件已失效。")]})
            queryset = segment_filter.qs
        return super().filter_queryset(queryset)

    def perform_create(self, serializer):
        serializer.instance = customers.customer_create(
            tenant=self.tenant, created_by=self.request_user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = customers.customer_update(
            tenant=self.tenant,
            customer=serializer.instance,
            updated_by=self.request_user,
            **serializer.validated_data,
        )

    @extend_schema(
        request=None,
        responses={200: inline_serializer("RevealedPhone", {"phone": serializers.CharField()})},
    )
    @action(detail=True, methods=["post"], url_path="reveal-phone")
    def reveal_phone(self, request, pk=None):
        """The full number; every reveal is written to the audit log (PIPL)."""
        phone = privacy.customer_reveal_phone(
            tenant=self.tenant, customer=self.get_object(), user=request.user
        )
        return Response({"phone": phone})

    @extend_schema(request=None, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def claim(self, request, pk=None):
        """Take a customer out of the lead pool (公海): first come, first served."""
        customer = self.get_object()
        pool.customer_claim_from_pool(tenant=self.tenant, customer=customer, user=request.user)
        customer.refresh_from_db()
        return Response(self.get_serializer(customer).data)

    @extend_schema(request=None, responses={200: CustomerSerializer})
    @action(detail=True, methods=["post"])
    def anonymise(self, request, pk=None):
        customer = privacy.customer_anonymise(
            tenant=self.tenant, customer=self.get_object(), user=request.user
        )
        return Response(self.get_serializer(customer).data)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["get"], url_path="personal-data")
    def personal_data(self, request, pk=None):
        """One customer's personal data (PIPL access request); audit-logged."""
        return Response(
            customer_io.customer_personal_data(
                tenant=self.tenant, user=request.user, customer=self.get_object()
            )
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("file_format", str, enum=["json", "csv", "xlsx"], description="默认 json")
        ],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.BINARY},
    )
    @action(detail=False, methods=["get"])
    def export(self, request):
        """The filtered list as JSON, CSV or Excel (managers only; audit-logged)."""
        file_format = request.query_params.get("file_format", "json")
        if file_format not in ("json", "csv", "xlsx"):
            raise exceptions.ValidationError({"file_format": [_("只支持 json、csv、xlsx。")]})
        content, content_type = customer_io.customers_export(
            tenant=self.tenant,
            user=request.user,
            queryset=self.filter_queryset(self.get_queryset()),
            file_format=file_format,
            filters=dict(request.query_params.lists()),
        )
        if file_format == "json":
            return Response({"count": len(content), "results": content})
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="customers.{file_format}"'
        return response


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


# --------------------------------------------------------------------------- public intake


class IntakeThrottle(ClientRateThrottle):
    """Per client address (so varying the key doesn't help: wrong keys count too) and per key."""

    scope = "intake_ip"

    def buckets(self, request, view):
        key = IntakeView.key_from(request)
        buckets = [("intake_ip", client_ident(request))]
        if key:
            buckets.append(("intake_key", hash_secret(key)))
        return buckets


class IntakeSerializer(serializers.Serializer):
    name = fields.CharField(max_length=50)
    phone = fields.CharField(max_length=30)
    source_channel = serializers.ChoiceField(SourceChannel.choices, default=SourceChannel.WEBSITE)
    note = fields.CharField(required=False, allow_blank=True, default="", max_length=2000)
    referral_code = fields.CharField(required=False, allow_blank=True, default="", max_length=64)
    campaign_code = fields.CharField(
        required=False, allow_blank=True, default="", max_length=32, help_text="活动代码：报名到该营销活动"
    )
    marketing_consent = serializers.BooleanField(
        required=False, default=False, help_text="客户勾选了同意接收营销短信（活动报名必填）"
    )


class IntakeView(APIView):
    """Public endpoint for website forms and ad platforms: ``X-Intake-Key: ik_…`` + the inquiry.

    201 with the lead id; 401 for a missing/wrong key; 400 for invalid input; a known phone
    attaches the lead to the existing customer. Retries are safe: the same ``Idempotency-Key``
    replays the first response (another body under it: 422 ``idempotency_key_reused``), and a
    repeat of the same phone within ``CUSTOMERS_INTAKE_MERGE_HOURS`` answers 200 ``merged`` with
    the existing lead instead of creating one.
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [IntakeThrottle]

    def dispatch(self, request, *args, **kwargs):
        """One transaction per request: an error response rolls back this request's writes only."""
        with transaction.atomic():
            return super().dispatch(request, *args, **kwargs)

    @staticmethod
    def key_from(request) -> str:
        return request.META.get("HTTP_X_INTAKE_KEY", "").strip()

    @extend_schema(
        request=IntakeSerializer,
        parameters=[
            OpenApiParameter("X-Intake-Key", str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="重试时使用同一个值：返回第一次的结果，不会重复创建线索（1–255 个 ASCII 字符）",
            ),
        ],
        responses={
            201: inline_serializer(
                "IntakeCreated", {"id": serializers.IntegerField(), "customer_id": serializers.IntegerField()}
            ),
            200: inline_serializer(
                "IntakeMerged",
                {
                    "id": serializers.IntegerField(),
                    "customer_id": serializers.IntegerField(),
                    "merged": serializers.BooleanField(),
                },
            ),
            400: OpenApiResponse(description="数据有误"),
            401: OpenApiResponse(description="接入密钥无效"),
            409: OpenApiResponse(description="相同 Idempotency-Key 的请求正在处理中"),
            422: OpenApiResponse(description="Idempotency-Key 已用于另一个请求（idempotency_key_reused）"),
            429: OpenApiResponse(description="请求过于频繁（见 Retry-After）"),
        },
        auth=[],
    )
    def post(self, request):
        key = self.key_from(request)
        settings_row = None
        if key:
            key_hash = hash_secret(key)
            with platform_scope("lead intake: find tenant by intake key"):
                # the current key, or the replaced one while its rotation grace period lasts
                settings_row = (
                    CustomerSettings.objects.select_related("tenant")
                    .filter(
                        Q(intake_key_hash=key_hash)
                        | Q(
                            previous_intake_key_hash=key_hash,
                            previous_intake_key_expires_at__gt=timezone.now(),
                        )
                    )
                    .first()
                )
        if (
            settings_row is None
            or not (
                secret_matches(key, settings_row.intake_key_hash)
                or (
                    settings.previous_intake_key_active(settings_row)
                    and secret_matches(key, settings_row.previous_intake_key_hash)
                )
            )
            or not settings_row.tenant.is_active
        ):
            raise exceptions.AuthenticationFailed(_("接入密钥无效。"))
        tenant = settings_row.tenant

        def create() -> Response:
            serializer = IntakeSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            data = dict(serializer.validated_data)
            extra = {key: data.pop(key) for key in ("campaign_code", "marketing_consent")}
            try:
                for extension in extensions.intake_extensions():
                    extension.validate(tenant=tenant, data=extra)
                lead, merged = leads.lead_intake(tenant=tenant, **data)
                for extension in extensions.intake_extensions():
                    extension.apply(tenant=tenant, lead=lead, data=extra)
            except DjangoValidationError as error:
                raise exceptions.ValidationError(
                    error.message_dict if hasattr(error, "error_dict") else error.messages
                )
            if merged:
                return Response({"id": lead.pk, "customer_id": lead.customer_id, "merged": True})
            return Response({"id": lead.pk, "customer_id": lead.customer_id}, status=status.HTTP_201_CREATED)

        with tenant_context(tenant):
            return idempotent_response(request, tenant=tenant, scope="customers.intake", handler=create)

    def get_authenticate_header(self, request) -> str:
        return 'IntakeKey realm="api"'
