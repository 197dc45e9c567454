"""Engagement REST API: thin serializers and viewsets over the services."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from crm.api.viewsets import TenantViewSetMixin
from crm.tenancy import current_tenant
from customers.models import Customer
from engagement.models import Consent, ConsentChannel, ConsentEvent, ConsentSource, ConsentState
from engagement.services import consent as consent_services


@extend_schema_field(OpenApiTypes.INT)
class TenantPKField(serializers.PrimaryKeyRelatedField):
    """FK to a tenant-owned model; choices come from the scoped manager at request time."""

    def __init__(self, model=None, **kwargs):
        self.model = model
        super().__init__(**kwargs)

    def get_queryset(self):
        if current_tenant() is None:
            return self.model._default_manager.none()
        return self.model.objects.all()


# --- consents ------------------------------------------------------------------------------------


class ConsentEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentEvent
        fields = ["occurred_at", "channel", "state", "source", "version", "reason", "actor_name"]
        read_only_fields = fields


class ConsentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Consent
        fields = ["id", "customer", "channel", "state", "source", "version", "reason", "changed_at"]
        read_only_fields = fields


class ConsentDetailSerializer(ConsentSerializer):
    history = serializers.SerializerMethodField()

    class Meta(ConsentSerializer.Meta):
        fields = [*ConsentSerializer.Meta.fields, "history"]
        read_only_fields = fields

    def get_history(self, consent: Consent) -> list[dict]:
        events = ConsentEvent.objects.filter(customer_id=consent.customer_id, channel=consent.channel)
        return ConsentEventSerializer(events.order_by("occurred_at", "id"), many=True).data


class ConsentWriteSerializer(serializers.Serializer):
    customer = TenantPKField(model=Customer)
    channel = serializers.ChoiceField(ConsentChannel.choices)
    state = serializers.ChoiceField(ConsentState.choices)
    source = serializers.ChoiceField(
        [ConsentSource.STAFF, ConsentSource.INTAKE_FORM, ConsentSource.API], default=ConsentSource.API
    )
    version = serializers.CharField(max_length=32, default=consent_services.CONSENT_VERSION)
    reason = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ConsentViewSet(
    TenantViewSetMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Current consent per customer and channel; POST records a change (history is append-only)."""

    model = Consent
    required_permissions = {"*": "engagement.view", "write": "engagement.consent"}
    filterset_fields = ["customer", "channel", "state"]
    ordering_fields = ["changed_at"]

    def get_serializer_class(self):
        if self.action == "create":
            return ConsentWriteSerializer
        return ConsentDetailSerializer if self.action == "retrieve" else ConsentSerializer

    def get_tenant_queryset(self):
        return Consent.objects.order_by("-changed_at", "-id")

    @extend_schema(request=ConsentWriteSerializer, responses={201: ConsentSerializer})
    def create(self, request, *args, **kwargs):
        serializer = ConsentWriteSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        consent = consent_services.consent_record(
            tenant=self.tenant, actor=request.user, **serializer.validated_data
        )
        return Response(ConsentSerializer(consent).data, status=status.HTTP_201_CREATED)
