"""``/api/v1/aftercare-settings/`` and ``/api/v1/aftercare-plan-kinds/``: the aftercare settings page
through the API (reminder offsets, escalation delay, warranty years, ticket time limits per priority,
survey link validity; the maintenance plan kinds).

Same services and validation as the page. Managers; a token needs the ``settings`` module.
Plan kinds are a short per-tenant list keyed by ``code``: GET lists them, PUT/PATCH adds or edits
the kinds given (a kind is never deleted, only deactivated: plans refer to it).
"""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from aftercare.models import AftercareSettings, PlanKind, TicketCategory, TicketPriority
from aftercare.services import plans, settings
from crm.api import fields
from crm.api.viewsets import SingletonViewMixin, TenantViewSetMixin
from crm.models import TokenModule

WARRANTY_KEYS = ["general", *TicketCategory.values]


class TicketSlaSerializer(serializers.Serializer):
    first_response = fields.IntegerField(min_value=1, max_value=8760, help_text="首次响应时限（小时）")
    resolution = fields.IntegerField(min_value=1, max_value=8760, help_text="解决时限（小时）")

    def validate(self, attrs: dict) -> dict:
        if attrs["first_response"] > attrs["resolution"]:
            raise serializers.ValidationError(
                {"first_response": ["首次响应时限不能晚于解决时限。"]}, code="invalid"
            )
        return attrs


class TicketSlaHoursSerializer(serializers.Serializer):
    """One entry per priority; a partial update may give only some priorities."""

    urgent = TicketSlaSerializer(required=False)
    high = TicketSlaSerializer(required=False)
    normal = TicketSlaSerializer(required=False)
    low = TicketSlaSerializer(required=False)


class AftercareSettingsSerializer(serializers.Serializer):
    reminder_offsets_days = serializers.ListField(
        child=fields.IntegerField(min_value=1, max_value=365), min_length=1, max_length=10
    )
    escalation_days_overdue = fields.IntegerField(min_value=1, max_value=365)
    warranty_years = serializers.DictField(
        child=fields.IntegerField(min_value=0, max_value=30),
        help_text=f"按类别的保修年限（键：{', '.join(WARRANTY_KEYS)}）",
    )
    sla_hours = TicketSlaHoursSerializer(help_text="工单时限：按优先级的首次响应与解决小时数")
    survey_link_days = fields.IntegerField(min_value=1, max_value=90, help_text="问卷链接有效天数")

    def validate_warranty_years(self, value: dict) -> dict:
        unknown = sorted(set(value) - set(WARRANTY_KEYS))
        if unknown or len(value) > len(WARRANTY_KEYS):
            raise serializers.ValidationError(f"未知类别：{', '.join(unknown)[:200]}", code="invalid_choice")
        return value


class AftercareSettingsView(SingletonViewMixin, TenantViewSetMixin, GenericAPIView):
    model = AftercareSettings
    serializer_class = AftercareSettingsSerializer
    required_permissions = {"*": "aftercare.manage"}
    token_scope_module = TokenModule.SETTINGS

    def get_tenant_queryset(self):
        return AftercareSettings.objects.all()

    def get_singleton(self) -> AftercareSettings:
        return settings.aftercare_settings_get(tenant=self.tenant)

    def _data(self) -> dict:
        config = settings.aftercare_settings_get(tenant=self.tenant)
        return {
            "reminder_offsets_days": config.offsets(),
            "escalation_days_overdue": config.escalation_days_overdue,
            "warranty_years": {key: config.warranty_years_for(key) for key in WARRANTY_KEYS},
            "sla_hours": {priority: config.sla_for(priority) for priority in TicketPriority.values},
            "survey_link_days": config.survey_link_days,
        }

    def get(self, request):
        self.get_object()
        return Response(AftercareSettingsSerializer(self._data()).data)

    def put(self, request):
        return self._update(request, partial=False)

    def patch(self, request):
        return self._update(request, partial=True)

    @transaction.atomic
    def _update(self, request, *, partial: bool) -> Response:
        self.get_object()
        serializer = AftercareSettingsSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        values = {**self._data(), **serializer.validated_data}
        settings.aftercare_settings_update(tenant=self.tenant, **values)
        return Response(AftercareSettingsSerializer(self._data()).data)


class PlanKindSerializer(serializers.Serializer):
    code = fields.SlugField(max_length=32)
    name = fields.CharField(max_length=50)
    months_after_handover = fields.IntegerField(min_value=1, max_value=240)
    checklist = serializers.ListField(child=fields.CharField(max_length=200), max_length=50, default=list)
    creates_renovation_lead = serializers.BooleanField(default=False)
    is_active = serializers.BooleanField(default=True)


KINDS = PlanKindSerializer(many=True)


class PlanKindsView(TenantViewSetMixin, GenericAPIView):
    model = PlanKind
    serializer_class = PlanKindSerializer
    required_permissions = {"*": "aftercare.manage"}
    token_scope_module = TokenModule.SETTINGS
    pagination_class = None

    def get_tenant_queryset(self):
        return PlanKind.objects.all()

    def _kinds(self) -> list:
        plans.plan_kinds_ensure_defaults(tenant=self.tenant)
        return list(PlanKind.objects.order_by("months_after_handover", "id"))

    @extend_schema(responses={200: KINDS})
    def get(self, request):
        return Response(PlanKindSerializer(self._kinds(), many=True).data)

    @extend_schema(request=KINDS, responses={200: KINDS})
    def put(self, request):
        return self._save(request)

    @extend_schema(request=KINDS, responses={200: KINDS})
    def patch(self, request):
        return self._save(request)

    @transaction.atomic
    def _save(self, request) -> Response:
        serializer: serializers.ListSerializer = serializers.ListSerializer(
            child=PlanKindSerializer(), data=request.data, max_length=20
        )
        serializer.is_valid(raise_exception=True)
        for row in serializer.validated_data:
            plans.plan_kind_save(tenant=self.tenant, **row)
        return Response(PlanKindSerializer(self._kinds(), many=True).data)
