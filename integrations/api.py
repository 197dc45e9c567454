"""``/api/v1/webhooks/``: the tenant's signed webhook endpoints, their delivery logs, resend."""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from crm.api import fields as bounded
from crm.api.serializers import ModelSerializer
from crm.api.viewsets import TenantViewSetMixin
from crm.events.models import EventDelivery
from crm.events.types import EVENT_TYPES
from integrations import selectors, services, signing
from integrations.models import RobotEventRoute, WebhookEndpoint

WEBHOOKS_DESCRIPTION = f"""Signed outbound webhooks: the tenant's domain events POSTed to your HTTPS endpoint.

Each event of a subscribed type is sent as `POST` with a JSON body
`{{"id", "type", "created_at", "tenant", "data"}}` (`data` is the event payload; the same rows as
`GET /api/v1/events/`) and the headers

- `X-CRM-Event-Id`: the event id (also `id` in the body) — sends are at-least-once, de-duplicate on it;
- `X-CRM-Timestamp`: Unix seconds when this attempt was signed;
- `X-CRM-Signature`: `sha256=<hex HMAC-SHA256(secret, f"{{timestamp}}.{{body}}")>` over the raw body bytes.

Answer with any 2xx within 5 seconds. Anything else is retried with exponential back-off up to a
bounded number of attempts (then a dead letter you can resend); an endpoint that keeps failing
is switched off automatically and the managers are notified. Only public http/https addresses are
called (checked again at every send). The `secret` is returned once, when the endpoint is created
or its secret rotated (`POST /webhooks/{{id}}/rotate-secret/`); store it then.

Verify a request (Python):

```python
{signing.VERIFY_SNIPPET}```

Event types: """ + ", ".join(f"`{name}`" for name in EVENT_TYPES)


class WebhookEndpointSerializer(ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)),
        allow_empty=False,
        max_length=len(EVENT_TYPES),
    )
    url = bounded.CharField(max_length=500)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "name",
            "url",
            "event_types",
            "is_active",
            "consecutive_failures",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "consecutive_failures",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "secret_rotated_at",
            "created_at",
            "updated_at",
        ]


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, help_text=gettext_lazy("仅在创建或更新密钥时返回一次"))

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(ModelSerializer):
    event_id = serializers.UUIDField(source="event.event_id", read_only=True)
    event_type = serializers.CharField(source="event.type", read_only=True)

    class Meta:
        model = EventDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "response_code",
            "duration_ms",
            "last_error",
            "last_attempt_at",
            "next_attempt_at",
            "delivered_at",
            "created_at",
        ]
        read_only_fields = fields


class ResendSerializer(serializers.Serializer):
    delivery = bounded.IntegerField(min_value=1)


@extend_schema_view(
    list=extend_schema(description=WEBHOOKS_DESCRIPTION),
    create=extend_schema(responses={201: WebhookEndpointWithSecretSerializer}),
)
class WebhookEndpointViewSet(TenantViewSetMixin, viewsets.ModelViewSet):
    __doc__ = WEBHOOKS_DESCRIPTION

    model = WebhookEndpoint
    serializer_class = WebhookEndpointSerializer
    required_permissions = {"*": "webhooks.view", "write": "webhooks.manage"}

    def get_tenant_queryset(self):
        return selectors.endpoints_for_list(tenant=self.tenant)

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(tenant=self.tenant, **serializer.validated_data)
        endpoint.secret = secret
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def update(self, request, *args, **kwargs):
        endpoint = self.get_object()
        serializer = self.get_serializer(endpoint, data=request.data, partial=kwargs.pop("partial", False))
        serializer.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(
            tenant=self.tenant, endpoint=endpoint, **serializer.validated_data
        )
        return Response(self.get_serializer(endpoint).data)

    def destroy(self, request, *args, **kwargs):
        services.webhook_endpoint_delete(tenant=self.tenant, endpoint=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(request=None, responses={200: WebhookEndpointWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint, secret = services.webhook_endpoint_rotate_secret(
            tenant=self.tenant, endpoint=self.get_object()
        )
        endpoint.secret = secret
        return Response(WebhookEndpointWithSecretSerializer(endpoint).data)

    @extend_schema(responses={200: WebhookDeliverySerializer(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        """The endpoint's delivery log, newest first (status, response code, duration, attempts)."""
        queryset = selectors.endpoint_deliveries(tenant=self.tenant, endpoint=self.get_object())
        page = self.paginate_queryset(queryset)
        if page is not None:
            return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
        return Response(WebhookDeliverySerializer(queryset, many=True).data)

    @extend_schema(
        request=ResendSerializer,
        responses={
            202: inline_serializer("WebhookResent", {"resent": serializers.IntegerField()}),
            404: OpenApiResponse(
                description="No such endpoint, or the endpoint has no such delivery / it is being sent now "
                "(errors.delivery says which).",
            ),
        },
    )
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        """Send one delivery of this endpoint again now, with a fresh set of attempts."""
        endpoint = self.get_object()
        query = ResendSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        resent = services.webhook_delivery_resend(
            tenant=self.tenant, endpoint=endpoint, delivery_id=query.validated_data["delivery"]
        )
        if not resent:
            return Response(
                {
                    "detail": _("未找到。"),
                    "errors": {"delivery": [_("该接收地址没有这条投递记录，或它正在投递中。")]},
                },
                status=status.HTTP_404_NOT_FOUND,
            )
        return Response({"resent": resent}, status=status.HTTP_202_ACCEPTED)


class RobotEventRouteSerializer(ModelSerializer):
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(EVENT_TYPES)),
        allow_empty=True,
        max_length=len(EVENT_TYPES),
    )

    class Meta:
        model = RobotEventRoute
        fields = ["event_types", "updated_at"]
        read_only_fields = ["updated_at"]


class RobotEventRouteView(TenantViewSetMixin, GenericAPIView):
    """Which event types also go to the tenant's WeChat Work / DingTalk group robot
    (configured at ``/api/v1/notification-settings/``), through the same outbox."""

    model = RobotEventRoute
    serializer_class = RobotEventRouteSerializer
    required_permissions = {"*": "webhooks.view", "write": "webhooks.manage"}

    def get(self, request):
        return Response(self.get_serializer(services.robot_event_route_get(tenant=self.tenant)).data)

    def put(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        route = services.robot_event_route_update(
            tenant=self.tenant, event_types=serializer.validated_data["event_types"]
        )
        return Response(self.get_serializer(route).data)
