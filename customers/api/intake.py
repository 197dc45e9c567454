"""The public intake endpoint (website forms, ad platforms): key, throttle, idempotency."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, serializers, status
from rest_framework.exceptions import ErrorDetail
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from crm import extensions
from crm.api import fields
from crm.api.exceptions import django_validation_error_to_drf
from crm.hashed_secrets import hash_secret, secret_matches
from crm.idempotency.services import idempotent_response
from crm.ratelimit import ClientRateThrottle, client_ident
from crm.tenancy import platform_scope, tenant_context
from customers.api.customers import EmailInputField
from customers.models import (
    CustomerSettings,
    SourceChannel,
)
from customers.services import leads, settings

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
    email = EmailInputField(
        default="", help_text="邮箱（可选）；已有客户没有邮箱时才会补上，不会覆盖员工录入的地址"
    )
    source_channel = serializers.ChoiceField(SourceChannel.choices, default=SourceChannel.WEBSITE)
    note = fields.CharField(required=False, allow_blank=True, default="", max_length=2000)
    referral_code = fields.CharField(required=False, allow_blank=True, default="", max_length=64)
    campaign_code = fields.CharField(
        required=False, allow_blank=True, default="", max_length=32, help_text="活动代码：报名到该营销活动"
    )
    marketing_consent = serializers.BooleanField(
        required=False, default=False, help_text="客户勾选了同意接收营销短信（活动报名必填）"
    )
    email_consent = serializers.BooleanField(
        required=False, default=False, help_text="客户勾选了同意接收营销邮件（须同时填写 email）"
    )

    def validate(self, attrs: dict) -> dict:
        if attrs.get("email_consent") and not (attrs.get("email") or "").strip():
            raise serializers.ValidationError(
                {"email": [ErrorDetail(_("同意接收营销邮件时请填写邮箱。"), code="email_required")]}
            )
        return attrs


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
            extra = {key: data.pop(key) for key in ("campaign_code", "marketing_consent", "email_consent")}
            try:
                for extension in extensions.intake_extensions():
                    extension.validate(tenant=tenant, data=extra)
                lead, merged = leads.lead_intake(tenant=tenant, **data)
                for extension in extensions.intake_extensions():
                    extension.apply(tenant=tenant, lead=lead, data=extra)
            except DjangoValidationError as error:  # field messages with their stable codes
                raise django_validation_error_to_drf(error) from None
            if merged:
                return Response({"id": lead.pk, "customer_id": lead.customer_id, "merged": True})
            return Response({"id": lead.pk, "customer_id": lead.customer_id}, status=status.HTTP_201_CREATED)

        with tenant_context(tenant):
            return idempotent_response(request, tenant=tenant, scope="customers.intake", handler=create)

    def get_authenticate_header(self, request) -> str:
        return 'IntakeKey realm="api"'
